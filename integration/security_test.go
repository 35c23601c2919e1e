//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Black-box security tests against a running daemon: environment hygiene
// (injected_environment, traced_process, allow_env, the courier) and the
// daemon's own hardening, checked from outside as a same-uid process.

const readTool = `{"type":"REQUEST","action":"read","service":"tool","targets":["k"]}`

// runEnv runs name with the environment's variables plus extra, optionally
// under wrap (a tracer) and as another user.
func (e *env) runEnv(extra []string, attr *syscall.SysProcAttr, stdin, name string, args ...string) result {
	e.t.Helper()
	return e.runWith(e.home, extra, attr, stdin, name, args...)
}

// registeredTool copies the relay into the project directory, registers it
// and lets it read service "tool".
func (e *env) registeredTool() string {
	e.t.Helper()
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(e.t, bin.relay, tool, 0o755)
	e.mustKA("register", tool)
	e.mustKA("grant", tool, "--read", "tool")
	return tool
}

// askOnce runs the relay at path with extra environment, sends one request
// and returns the answer line.
func (e *env) askOnce(path string, extra ...string) string {
	e.t.Helper()
	r := e.runEnv(extra, nil, readTool+"\n", path, "-socket", e.socket, "-write-first")
	return strings.TrimSpace(r.stdout)
}

func wantAnswer(t *testing.T, what, got, reason string) {
	t.Helper()
	if reason == "" {
		if !strings.Contains(got, `"status":"success"`) {
			t.Errorf("%s: %s, want success", what, got)
		}
		return
	}
	if !strings.Contains(got, `"reason":"`+reason+`"`) {
		t.Errorf("%s: %s, want reason %s", what, got, reason)
	}
}

// harmlessLib is an existing shared library that changes nothing when
// preloaded (libc itself); the relay is static and ignores LD_PRELOAD.
func harmlessLib(t *testing.T) string {
	for _, pat := range []string{"/lib/*/libc.so.6", "/usr/lib/*/libc.so.6", "/lib64/libc.so.6"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	t.Skip("no libc.so.6 to preload")
	return ""
}

func TestInjectedEnvironmentDenied(t *testing.T) {
	e := newEnv(t)
	e.start()
	tool := e.registeredTool()
	wantAnswer(t, "clean environment (canary)", e.askOnce(tool), "")
	for _, v := range []string{"LD_PRELOAD=" + harmlessLib(t), "PYTHONPATH=/nonexistent", "NODE_OPTIONS=--no-warnings", "BASH_ENV=/dev/null"} {
		wantAnswer(t, v, e.askOnce(tool, v), "injected_environment")
	}
}

func TestAllowEnvRelaxesOneVariable(t *testing.T) {
	e := newEnv(t)
	e.start()
	tool := e.registeredTool()
	wantAnswer(t, "PYTHONPATH before allow_env", e.askOnce(tool, "PYTHONPATH=/x"), "injected_environment")
	e.mustKA("grant", tool, "--allow-env", "PYTHONPATH")
	if pol := e.mustKA("policy"); !strings.Contains(pol, "allow env:  PYTHONPATH") {
		t.Errorf("policy does not show the relaxed variable:\n%s", pol)
	}
	wantAnswer(t, "PYTHONPATH allowed", e.askOnce(tool, "PYTHONPATH=/x"), "")
	wantAnswer(t, "LD_PRELOAD still refused", e.askOnce(tool, "PYTHONPATH=/x", "LD_PRELOAD="+harmlessLib(t)), "injected_environment")
	audit := e.mustKA("audit", "--json", "-n", "2")
	if !strings.Contains(audit, `"relaxed_env":["PYTHONPATH"]`) {
		t.Errorf("audit does not list the relaxed variable:\n%s", audit)
	}
	e.mustKA("revoke", tool, "--allow-env", "PYTHONPATH")
	wantAnswer(t, "PYTHONPATH after revoke", e.askOnce(tool, "PYTHONPATH=/x"), "injected_environment")
}

func TestTracedCallerDenied(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not installed")
	}
	e := newEnv(t)
	e.start()
	tool := e.registeredTool()
	r := e.runEnv(nil, nil, readTool+"\n", strace, "-o", "/dev/null", "-e", "trace=none", tool, "-socket", e.socket, "-write-first")
	if strings.Contains(r.stderr, "Operation not permitted") {
		t.Skipf("ptrace not permitted here: %s", r.stderr)
	}
	wantAnswer(t, "under strace", strings.TrimSpace(r.stdout), "traced_process")
	wantAnswer(t, "not traced (canary)", e.askOnce(tool), "")
}

// TestCourierInjectedEnvironment: a registered script whose `keychain-auth
// get` runs with LD_PRELOAD in the script's environment, or in the CLI's
// own, is denied; the same script without it is allowed.
func TestCourierInjectedEnvironment(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	script := writeScript(t, dir, "fetch.sh", "#!/bin/sh\nif [ -n \"$CLI_PRELOAD\" ]; then LD_PRELOAD=$CLI_PRELOAD keychain-auth get tool k; else keychain-auth get tool k; fi\n")
	e.mustKA("register", script)
	e.mustKA("grant", script, "--read", "tool")
	lib := harmlessLib(t)
	// An exact read of a missing key succeeds without a value: exit 0 or 4.
	if r := e.runEnv(nil, nil, "", script); r.code != 0 && r.code != 4 {
		t.Fatalf("clean script (canary): exit %d, stderr %q", r.code, r.stderr)
	}
	for _, v := range []string{"LD_PRELOAD=" + lib, "CLI_PRELOAD=" + lib} {
		if r := e.runEnv([]string{v}, nil, "", script); r.code != 3 || !strings.Contains(r.stderr+e.daemonLog(), "injected_environment") {
			t.Errorf("%s: exit %d, stderr %q, want 3 and injected_environment", v, r.code, r.stderr)
		}
	}
}

// Same-uid tests run daemon and attacker as uid 65534: root would bypass
// the kernel's same-uid limits.

// regexpCore matches a zero soft limit for core files in /proc/PID/limits.
var regexpCore = regexp.MustCompile(`(?m)^Max core file size\s+0\s`)

var nobodyCred = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}

// newNobodyEnv is an environment whose HOME belongs to uid 65534.
func newNobodyEnv(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run daemon and attacker as uid 65534")
	}
	base, err := os.MkdirTemp("", "kca-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	e := newEnv(t)
	home := filepath.Join(base, "home")
	for _, d := range []string{home, filepath.Join(home, "run")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, 65534, 65534)
	}
	for i, v := range e.vars {
		e.vars[i] = strings.ReplaceAll(v, e.home, home)
	}
	e.socket = strings.ReplaceAll(e.socket, e.home, home)
	e.home = home
	return e
}

// startAsNobody is env.start with the daemon running as uid 65534; it
// returns the daemon's pid.
func (e *env) startAsNobody() int {
	e.t.Helper()
	return e.startDaemon(bin.keychainAuth, nobodyCred)
}

// nobodyKA runs the CLI as uid 65534.
func (e *env) nobodyKA(stdin string, args ...string) result {
	e.t.Helper()
	return e.runEnv(nil, nobodyCred, stdin, bin.keychainAuth, args...)
}

var attackerOnce struct {
	sync.Once
	path string
	err  error
}

// attackerBin builds testdata/security/attacker once.
func attackerBin(t *testing.T) string {
	t.Helper()
	attackerOnce.Do(func() {
		attackerOnce.path = filepath.Join(bin.dir, "attacker")
		attackerOnce.err = build(attackerOnce.path, "./testdata/security/attacker")
	})
	if attackerOnce.err != nil {
		t.Fatalf("build attacker: %v", attackerOnce.err)
	}
	return attackerOnce.path
}

// probe runs the attacker as uid 65534 and reports whether it succeeded.
func (e *env) probe(t *testing.T, args ...string) (bool, string) {
	t.Helper()
	r := e.runEnv(nil, nobodyCred, "", attackerBin(t), args...)
	return r.code == 0, strings.TrimSpace(r.stdout + r.stderr)
}

func TestDaemonHardening(t *testing.T) {
	e := newNobodyEnv(t)
	pid := e.startAsNobody()
	proc := "/proc/" + strconv.Itoa(pid)

	// Canary: the same probes against an ordinary same-uid process succeed.
	sleeper := exec.Command("sleep", "30")
	sleeper.SysProcAttr = nobodyCred
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	other := "/proc/" + strconv.Itoa(sleeper.Process.Pid)
	for _, p := range [][]string{{"read", other + "/environ"}, {"open", other + "/mem"}} {
		if ok, out := e.probe(t, p...); !ok {
			t.Fatalf("canary: %v against an ordinary uid-65534 process failed: %s", p, out)
		}
	}
	for _, p := range [][]string{{"read", proc + "/environ"}, {"open", proc + "/mem"}, {"ptrace", strconv.Itoa(pid)}} {
		if ok, out := e.probe(t, p...); ok {
			t.Errorf("%v against the daemon succeeded: %s", p, out)
		}
	}

	limits := string(mustRead(t, proc+"/limits"))
	if !regexpCore.MatchString(limits) {
		t.Errorf("core dumps not off:\n%s", limits)
	}
	if st := string(mustRead(t, proc+"/status")); !strings.Contains(st, "Umask:\t0077") {
		t.Errorf("daemon umask is not 0077:\n%s", st)
	}

	// Files the daemon creates: the vault, audit.log, pending.json.
	r := e.runEnv(nil, nobodyCred, readTool+"\n", bin.relay, "-socket", e.socket, "-write-first")
	wantAnswer(t, "unregistered program", r.stdout, "unregistered_binary_pending_approval")
	for _, dir := range []string{filepath.Join(e.home, ".local", "share", "keychain-auth"), filepath.Join(e.home, ".config", "keychain-auth")} {
		checkPrivate(t, dir)
	}
	for _, name := range []string{".local/share/keychain-auth/audit.log", ".config/keychain-auth/pending.json"} {
		if _, err := os.Stat(filepath.Join(e.home, name)); err != nil {
			t.Errorf("expected the daemon to have written %s: %v", name, err)
		}
	}
}

// checkPrivate asserts every file under dir that the daemon created is
// 0600 and every directory 0700. config.json and its lock are the CLI's.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		if strings.HasPrefix(fi.Name(), "config.json") {
			return nil
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
}
