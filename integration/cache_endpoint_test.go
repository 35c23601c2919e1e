//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A client started without XDG_RUNTIME_DIR (cron, su, a service manager)
// looks at ~/.cache/keychain-auth/agent.sock, as the original project's
// clients do; the user-mode daemon, started with XDG_RUNTIME_DIR, answers
// there too (issue 9, item 4). With --socket it answers only where told.
func TestClientWithoutRuntimeDirReachesDaemon(t *testing.T) {
	e := newEnv(t)
	e.start()
	cache := filepath.Join(e.home, ".cache", "keychain-auth", "agent.sock")
	// The main socket answers (its backlog) before the daemon has made
	// the second one: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Lstat(cache)
		if err == nil && fi.Mode().Type() == os.ModeSocket {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket at %s: %v\n%s", cache, err, e.daemonLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := e.runWith(e.home, []string{"XDG_RUNTIME_DIR="}, nil, "", bin.keychainAuth, "status")
	if r.code != 0 || !strings.Contains(r.stdout, "running") {
		t.Fatalf("status without XDG_RUNTIME_DIR: %d %s %s", r.code, r.stdout, r.stderr)
	}
	e.stop()
	if _, err := os.Lstat(cache); err == nil {
		t.Fatalf("%s left behind after stop", cache)
	}

	// Canary of the rule: a daemon told where to listen answers only there.
	e2 := newEnv(t)
	e2.start("--socket", e2.socket)
	r = e2.runWith(e2.home, []string{"XDG_RUNTIME_DIR="}, nil, "", bin.keychainAuth, "status")
	if r.code != 6 {
		t.Fatalf("with --socket, a client without XDG_RUNTIME_DIR: exit %d, want 6 (daemon not at ~/.cache)", r.code)
	}
}
