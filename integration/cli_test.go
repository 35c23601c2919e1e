//go:build linux

package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestClientCommandsWithoutDaemon(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{{"get", "s", "k"}, {"put", "s", "k"}, {"delete", "s", "k"}, {"ls", "s"}, {"status"}} {
		r := e.ka("v", args...)
		if r.code != 6 {
			t.Errorf("%v without daemon: exit %d, want 6", args, r.code)
		}
		if !strings.Contains(r.stderr, "keychain-auth serve") {
			t.Errorf("%v without daemon: stderr %q does not name `keychain-auth serve`", args, r.stderr)
		}
	}
	if r := e.ka("", "status"); strings.TrimSpace(r.stdout) != "not running" {
		t.Errorf("status stdout = %q, want \"not running\"", r.stdout)
	}
}

func TestServeSocketRules(t *testing.T) {
	e := newEnv(t)
	e.start()
	fi, err := os.Stat(e.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(e.socket)); di.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, want 0700", di.Mode().Perm())
	}
	// A second daemon on a live endpoint refuses to start.
	if r := e.ka("", "serve"); r.code == 0 || !strings.Contains(r.stderr, "already running") {
		t.Errorf("second serve: exit %d stderr %q", r.code, r.stderr)
	}
	// status is answered by the running daemon.
	var st map[string]any
	if err := json.Unmarshal([]byte(e.mustKA("status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st["running"] != true || st["backend"] != "file" || st["endpoint"] != e.socket || st["version"] == "" {
		t.Errorf("status --json = %v", st)
	}
	if _, ok := st["uptime_seconds"]; !ok {
		t.Errorf("status --json has no uptime: %v", st)
	}
	if w, _ := st["warning"].(string); !strings.Contains(w, "only by") {
		t.Errorf("status does not warn that at-rest protection is only the key file: %v", st)
	}
	// A client that simply hangs up is not a refused caller.
	if log := e.daemonLog(); strings.Contains(log, "caller refused") {
		t.Errorf("ordinary CLI use logged refusals:\n%s", log)
	}
	e.stop()
	if _, err := os.Stat(e.socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind after SIGTERM: %v", err)
	}
}

func TestServeReplacesStaleSocket(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Dir(e.socket), 0o700); err != nil {
		t.Fatal(err)
	}
	// A socket file nobody listens on, as a crashed daemon leaves behind.
	l, err := net.Listen("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	e.start()
	e.mustKA("status")
}

func TestServeRefusesUnsafeSocketDir(t *testing.T) {
	e := newEnv(t)
	target := filepath.Join(e.home, "elsewhere")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Dir(e.socket)); err != nil {
		t.Fatal(err)
	}
	if r := e.ka("", "serve"); r.code == 0 || !strings.Contains(r.stderr, "symlink") {
		t.Errorf("serve with a symlinked socket dir: exit %d stderr %q", r.code, r.stderr)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: cannot make a directory owned by someone else; that case is covered in transport tests")
		return
	}
	os.Remove(filepath.Dir(e.socket))
	foreign := filepath.Dir(e.socket)
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if r := e.ka("", "serve"); r.code == 0 || !strings.Contains(r.stderr, "owned") {
		t.Errorf("serve with a foreign-owned socket dir: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrorsGoToStderr(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{{"get", "only-one"}, {"get", "--bogus", "a", "b"}, {"grant", "/bin/true"}, {"approve", "not-a-hash"}, {"nosuchcommand"}} {
		r := e.ka("", args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%v: usage error on stdout: %q", args, r.stdout)
		}
		if !strings.Contains(r.stderr, "keychain-auth: error:") {
			t.Errorf("%v: stderr %q lacks the error prefix", args, r.stderr)
		}
	}
}

func TestAdminCommands(t *testing.T) {
	e := newEnv(t)
	dir := e.projectDir()
	tool := filepath.Join(dir, "tool")
	copyFile(t, bin.relay, tool, 0o755)
	link := filepath.Join(dir, "tool-link")
	if err := os.Symlink(tool, link); err != nil {
		t.Fatal(err)
	}
	if r := e.ka("", "check", tool); r.code != 5 {
		t.Errorf("check unregistered: exit %d, want 5", r.code)
	}
	// Paths are stored symlink-resolved.
	out := e.mustKA("register", link)
	if !strings.Contains(out, "Registered "+tool+" with hash sha256:") {
		t.Errorf("register via symlink printed %q", out)
	}
	if r := e.ka("", "check", tool, "svc"); r.code != 3 {
		t.Errorf("check registered, not allowed: exit %d, want 3", r.code)
	}
	e.mustKA("grant", link, "--read", "svc")
	if r := e.ka("", "check", tool, "svc", "--read"); r.code != 0 {
		t.Errorf("check --read allowed: exit %d, want 0 (%s)", r.code, r.stderr)
	}
	// Without flags, check means read, write and search, as the original.
	if r := e.ka("", "check", tool, "svc"); r.code != 3 {
		t.Errorf("check of a read-only entry: exit %d, want 3 (%s)", r.code, r.stderr)
	}
	// Unknown fields in config.json survive a rewrite.
	cfgPath := filepath.Join(e.home, ".config", "keychain-auth", "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), `"protocol_version"`, `"x_team_note":{"owner":"ops"},"protocol_version"`, 1)
	edited = strings.Replace(edited, `"can_search"`, `"x_ticket":"SEC-1","can_search"`, 1)
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustKA("grant", tool, "--write", "svc")
	raw, _ = os.ReadFile(cfgPath)
	for _, want := range []string{`"x_team_note"`, `"owner": "ops"`, `"x_ticket": "SEC-1"`} {
		if !strings.Contains(strings.ReplaceAll(string(raw), `":"`, `": "`), want) {
			t.Errorf("config.json lost %s after a rewrite:\n%s", want, raw)
		}
	}
	if fi, _ := os.Stat(cfgPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v, want 0600", fi.Mode().Perm())
	}
	// approve with a PATH whose file does not hash to HASH is refused.
	if r := e.ka("", "approve", strings.Repeat("ab", 32), tool); r.code == 0 {
		t.Error("approve with a mismatched hash succeeded")
	}
	// Approving a changed file at a known path keeps its permissions.
	if err := os.WriteFile(tool, append(mustRead(t, tool), 0), 0o755); err != nil {
		t.Fatal(err)
	}
	e.mustKA("approve", sha256File(t, tool), tool)
	pol := e.mustKA("policy")
	if !strings.Contains(pol, "read:       svc") || !strings.Contains(pol, sha256File(t, tool)) {
		t.Errorf("approve of a known path lost its permissions:\n%s", pol)
	}
	e.mustKA("revoke", tool, "--all")
	if r := e.ka("", "check", tool, "svc"); r.code != 3 {
		t.Errorf("check after revoke --all: exit %d, want 3", r.code)
	}
	e.mustKA("unregister", tool)
	if r := e.ka("", "check", tool); r.code != 5 {
		t.Errorf("check after unregister: exit %d, want 5", r.code)
	}
}

// TestConcurrentPolicyWrites runs many grant commands at once: with the
// file lock every one of them lands.
func TestConcurrentPolicyWrites(t *testing.T) {
	e := newEnv(t)
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(t, bin.relay, tool, 0o755)
	e.mustKA("register", tool)
	var wg sync.WaitGroup
	const n = 12
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if r := e.ka("", "grant", tool, "--read", "svc"+string(rune('a'+i))); r.code != 0 {
				t.Errorf("grant %d: %+v", i, r)
			}
		}(i)
	}
	wg.Wait()
	pol := e.mustKA("policy", "--json")
	for i := 0; i < n; i++ {
		if !strings.Contains(pol, `"svc`+string(rune('a'+i))+`"`) {
			t.Errorf("grant of svc%c was lost:\n%s", 'a'+i, pol)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnvironmentOverrides runs the daemon and the CLI with every location
// given by KEYCHAIN_AUTH_* variables instead of the XDG defaults.
func TestEnvironmentOverrides(t *testing.T) {
	base := t.TempDir()
	cfg, data := filepath.Join(base, "cfg"), filepath.Join(base, "data")
	sock := filepath.Join(base, "sockdir", "ka.sock")
	e := newEnv(t, "KEYCHAIN_AUTH_CONFIG_DIR="+cfg, "KEYCHAIN_AUTH_DATA_DIR="+data, "KEYCHAIN_AUTH_SOCKET="+sock)
	e.socket = sock
	e.start()
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(t, bin.relay, tool, 0o755)
	e.mustKA("authorize", tool, "svc")
	s := e.openSession(tool)
	if got := s.ask(`{"type":"REQUEST","action":"write","service":"svc","targets":["k"],"values":["v"]}`); !strings.Contains(got, "success") {
		t.Fatalf("write: %s", got)
	}
	for _, p := range []string{filepath.Join(cfg, "config.json"), filepath.Join(data, "audit.log"), sock} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{filepath.Join(e.home, ".config"), filepath.Join(e.home, ".local"), filepath.Join(e.home, "run", "keychain-auth")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created although every location was overridden", p)
		}
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(e.mustKA("status", "--json")), &st); err != nil || st["endpoint"] != sock {
		t.Errorf("status = %v, %v; want endpoint %s", st, err, sock)
	}
}

// TestServeStopsOnSIGINT: Ctrl-C in a terminal stops the daemon cleanly,
// as SIGTERM does (every other test stops it with SIGTERM).
func TestServeStopsOnSIGINT(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.mu.Lock()
	d, done := e.daemon, e.done
	e.daemon = nil
	e.mu.Unlock()
	if err := d.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.Process.Kill()
		t.Fatal("daemon did not stop on SIGINT")
	}
	if code := d.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGINT", code)
	}
	if _, err := os.Stat(e.socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind after SIGINT: %v", err)
	}
}

// TestRegisteringAnInterpreterWarns: an entry for sh or python3 itself
// admits every script and REPL of it, so the CLI says so; a program does
// not get the warning.
func TestRegisteringAnInterpreterWarns(t *testing.T) {
	e := newEnv(t)
	r := e.ka("", "register", "/bin/sh")
	if r.code != 0 || !strings.Contains(r.stderr, "is an interpreter") {
		t.Errorf("register /bin/sh: exit %d stderr %q, want a warning", r.code, r.stderr)
	}
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(t, bin.relay, tool, 0o755)
	if r := e.ka("", "register", tool); r.code != 0 || strings.Contains(r.stderr, "interpreter") {
		t.Errorf("register a program: exit %d stderr %q, want no warning", r.code, r.stderr)
	}
}

// TestSecondDaemonIsRefusedClearly: a second serve on the same endpoint says
// a daemon is running (even with a passphrase vault it cannot open), and
// one on another endpoint but the same data directory is refused too.
func TestSecondDaemonIsRefusedClearly(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE=first")
	e.start()
	second := append(append([]string{}, e.vars...), "KEYCHAIN_AUTH_PASSPHRASE=not the same")
	r := e.runWith(e.home, second[len(e.vars):], nil, "", bin.keychainAuth, "serve")
	if r.code == 0 || !strings.Contains(r.stderr, "already running") {
		t.Errorf("second serve on the endpoint: exit %d stderr %q", r.code, r.stderr)
	}
	other := filepath.Join(e.home, "other", "agent.sock")
	r = e.runWith(e.home, []string{"KEYCHAIN_AUTH_SOCKET=" + other}, nil, "", bin.keychainAuth, "serve")
	if r.code == 0 || !strings.Contains(r.stderr, "data directory") {
		t.Errorf("second serve on another endpoint, same data: exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the refused daemon left its socket behind: %v", err)
	}
}
