//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's claim about the passphrase variables: the daemon unsets
// them, but its initial environment (/proc/PID/environ) still holds them;
// root can read it, other programs of the same user cannot, because the
// daemon is non-dumpable.
func TestPassphraseVariableInInitialEnvironment(t *testing.T) {
	e := newNobodyEnv(t)
	file := filepath.Join(e.home, "passphrase")
	if err := os.WriteFile(file, []byte(lifePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(file, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE_FILE="+file)
	pid := e.startAsNobody()
	environ := fmt.Sprintf("/proc/%d/environ", pid)
	b, err := os.ReadFile(environ)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "KEYCHAIN_AUTH_PASSPHRASE_FILE="+file) {
		t.Errorf("root reads %s without the variable; the README says it stays there", environ)
	}
	r := e.runEnv(nil, nobodyCred, "", "/bin/cat", environ)
	if r.code == 0 || strings.Contains(r.stdout, "KEYCHAIN_AUTH") || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("a program of the daemon's user read its environment: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Canary: the same user reads the environment of a process of its own
	// that is dumpable.
	r = e.runEnv(nil, nobodyCred, "", "/bin/sh", "-c", "cat /proc/$$/environ")
	if r.code != 0 || !strings.Contains(r.stdout, "HOME=") {
		t.Errorf("the same user cannot read a dumpable process's environment either (exit %d, %q); the check proves nothing", r.code, r.stderr)
	}
}
