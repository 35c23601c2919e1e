//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Tests of `keychain-auth run` (issue 11 item 1). Daemon, CLI and callers
// run as uid 65534, so the same-user rules (who may rewrite the program
// file, who may read a process's environment) are the kernel's, not root's.
// Programs granted --run live in a root-owned directory, as a real install.

// runWorld is a uid-65534 user whose daemon holds svc/k = marker.
type runWorld struct {
	*env
	progDir string // root-owned, 0755
	sh      string // the real path of /bin/sh (an ELF shell)
}

func newRunWorld(t *testing.T, keychainAuth string) *runWorld {
	t.Helper()
	e := newNobodyEnv(t)
	if keychainAuth != bin.keychainAuth {
		for i, v := range e.vars {
			if strings.HasPrefix(v, "PATH=") {
				e.vars[i] = "PATH=" + filepath.Dir(keychainAuth) + ":" + strings.TrimPrefix(v, "PATH=")
			}
		}
	}
	e.startDaemon(keychainAuth, nobodyCred)
	dir, err := os.MkdirTemp("", "kca-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	w := &runWorld{env: e, progDir: dir, sh: sh}
	setter := filepath.Join(e.nobodyProj(), "set.sh")
	writeNobodyFile(t, setter, "#!/bin/sh\nkeychain-auth put svc k\n")
	e.mustNobodyKA("register", setter)
	e.mustNobodyKA("grant", setter, "--write", "svc")
	if r := e.runEnv(nil, nobodyCred, marker, setter); r.code != 0 {
		t.Fatalf("put: exit %d: %s", r.code, r.stderr)
	}
	return w
}

// nobodyProj is a project directory owned by uid 65534.
func (e *env) nobodyProj() string {
	dir := filepath.Join(e.home, "proj")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, 65534, 65534)
	return dir
}

func writeNobodyFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(path, 65534, 65534)
}

// program copies src into the root-owned directory as name (root, 0755).
func (w *runWorld) program(name, src string) string {
	w.t.Helper()
	p := filepath.Join(w.progDir, name)
	copyFile(w.t, src, p, 0o755)
	return p
}

// shell runs a command line with sh as uid 65534: the CLI's parent is
// then a shell of the user, as at a prompt. The trailing exit keeps sh from
// exec'ing the last command (its parent would be the root test process).
func (w *runWorld) shell(line string) result {
	w.t.Helper()
	return w.runEnv(nil, nobodyCred, "", "/bin/sh", "-c", line+"; exit $?")
}

// noLeak fails if the marker value reached the daemon's log, the audit
// log or the pending queue.
func (w *runWorld) noLeak(t *testing.T) {
	t.Helper()
	if strings.Contains(w.daemonLog(), marker) {
		t.Error("the value is in the daemon's log")
	}
	data := filepath.Join(w.home, ".local", "share", "keychain-auth")
	for _, f := range []string{filepath.Join(data, "audit.log"), filepath.Join(w.home, ".config", "keychain-auth", "pending.json")} {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), marker) {
			t.Errorf("the value is in %s", f)
		}
	}
}

// TestRunAsProgram: a registered program granted --run gets the value
// from a prompt, through --env and an env file; its exit status and its
// death by signal are the run's own; a registered program with read but
// without --run is refused (3), an unregistered one queued (5), a changed
// one is no longer the registered program (5).
func TestRunAsProgram(t *testing.T) {
	w := newRunWorld(t, bin.keychainAuth)
	rsh := w.program("rsh", w.sh)
	w.mustNobodyKA("register", rsh)
	w.mustNobodyKA("grant", rsh, "--read", "svc")
	r := w.shell("keychain-auth run " + (`--env A=svc/k -- ` + rsh + ` -c 'echo "A=$A"'`))
	if r.code != 3 || strings.Contains(r.stdout, marker) || !strings.Contains(r.stderr, "--run svc") {
		t.Errorf("read without --run: exit %d, stdout %q, stderr %q; want 3, nothing, a hint naming --run svc", r.code, r.stdout, r.stderr)
	}
	grant := w.nobodyKA("", "grant", rsh, "--run", "svc")
	if grant.code != 0 || !strings.Contains(grant.stderr, "/proc/PID/environ") {
		t.Fatalf("grant --run: exit %d, stderr %q; want 0 and the warning", grant.code, grant.stderr)
	}
	if pol := w.mustNobodyKA("policy"); !strings.Contains(pol, "via run:    svc") {
		t.Errorf("policy does not show the run permission:\n%s", pol)
	}
	r = w.shell("keychain-auth run " + (`--env A=svc/k -- ` + rsh + ` -c 'echo "A=$A"; exit 7'`))
	if r.code != 7 || strings.TrimSpace(r.stdout) != "A="+marker {
		t.Errorf("granted: exit %d, stdout %q, stderr %q; want 7 and A=<value>", r.code, r.stdout, r.stderr)
	}
	envFile := filepath.Join(w.nobodyProj(), "app.env")
	writeNobodyFile(t, envFile, "# secrets\n\nTOKEN=ka://svc/k\nALL=ka://svc/*\nPLAIN=as written\n")
	r = w.shell("keychain-auth run " + (`--env-file ` + envFile + ` -- ` + rsh + ` -c 'echo "$TOKEN|$ALL_K|$PLAIN"'`))
	if r.code != 0 || strings.TrimSpace(r.stdout) != marker+"|"+marker+"|as written" {
		t.Errorf("env file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The run process becomes PROGRAM: a signal that kills it is what
	// the shell sees (143 = 128 + SIGTERM).
	r = w.shell("keychain-auth run " + (`--env A=svc/k -- ` + rsh + ` -c 'kill -TERM $$'`))
	if r.code != 143 {
		t.Errorf("PROGRAM killed by SIGTERM: shell saw %d, want 143 (stderr %q)", r.code, r.stderr)
	}
	// revoke --run takes effect on the next run.
	w.mustNobodyKA("revoke", rsh, "--run", "svc")
	r = w.shell("keychain-auth run --env A=svc/k -- " + rsh + ` -c 'echo "A=$A"'`)
	if r.code != 3 || strings.Contains(r.stdout, marker) {
		t.Errorf("after revoke --run: exit %d, stdout %q; want 3 and nothing", r.code, r.stdout)
	}
	if pol := w.mustNobodyKA("policy"); strings.Contains(pol, "via run:") {
		t.Errorf("policy still shows a run permission after revoke:\n%s", pol)
	}
	w.mustNobodyKA("grant", rsh, "--run", "svc")
	audit := w.mustNobodyKA("audit", "--json", "-n", "20")
	if !strings.Contains(audit, `"action":"run"`) || !strings.Contains(audit, "run as the program") || !strings.Contains(audit, `"path":"`+rsh+`"`) {
		t.Errorf("audit lacks the run as the program:\n%s", audit)
	}

	// Unregistered PROGRAM: exit 5, queued (PROGRAM, not the shell).
	other := w.program("other", w.sh)
	appendByte(t, other) // another hash than rsh
	r = w.shell("keychain-auth run " + (`--env A=svc/k -- ` + other + ` -c 'echo "A=$A"'`))
	if r.code != 5 || strings.Contains(r.stdout, marker) {
		t.Errorf("unregistered PROGRAM: exit %d, stdout %q, stderr %q; want 5 and nothing", r.code, r.stdout, r.stderr)
	}
	if !w.nobodyPendingHas(other) {
		t.Errorf("unregistered PROGRAM not queued for approval")
	}

	// Changed PROGRAM: the registered path with other bytes is refused.
	appendByte(t, rsh)
	r = w.shell("keychain-auth run " + (`--env A=svc/k -- ` + rsh + ` -c 'echo "A=$A"'`))
	if r.code != 5 || strings.Contains(r.stdout, marker) {
		t.Errorf("changed PROGRAM: exit %d, stdout %q, stderr %q; want 5 and nothing", r.code, r.stdout, r.stderr)
	}
	w.noLeak(t)
}

func appendByte(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
}

// nobodyPendingHas reports whether path is in the approval queue.
func (w *runWorld) nobodyPendingHas(path string) bool {
	return strings.Contains(w.mustNobodyKA("list-pending"), path)
}

// TestRunAsCaller: a registered script with read on the service starts an
// unregistered program with the value (the first way, exactly like get);
// the same script without read is refused with get's reason and exit 3,
// and the unregistered program is not queued.
func TestRunAsCaller(t *testing.T) {
	w := newRunWorld(t, bin.keychainAuth)
	script := filepath.Join(w.nobodyProj(), "deploy.sh")
	writeNobodyFile(t, script, "#!/bin/sh\nkeychain-auth run --env A=svc/k -- /usr/bin/env\necho rc=$?\n")
	w.mustNobodyKA("register", script)
	r := w.runEnv(nil, nobodyCred, "", script)
	if strings.Contains(r.stdout, marker) || !strings.Contains(r.stdout, "rc=3") || !strings.Contains(r.stderr, "not queued") {
		t.Errorf("script without read: stdout %q, stderr %q; want rc=3, no value, and a hint that PROGRAM was not queued", r.stdout, r.stderr)
	}
	w.mustNobodyKA("grant", script, "--read", "svc")
	r = w.runEnv(nil, nobodyCred, "", script)
	if !strings.Contains(r.stdout, "A="+marker+"\n") || !strings.Contains(r.stdout, "rc=0") {
		t.Errorf("script with read: stdout %q, stderr %q; want A=<value> and rc=0", r.stdout, r.stderr)
	}
	if w.nobodyPendingHas("/usr/bin/env") {
		t.Error("the program a registered script ran was queued for approval")
	}
	audit := w.mustNobodyKA("audit", "--json", "-n", "3")
	if !strings.Contains(audit, "run as the caller") || !strings.Contains(audit, `"path":"`+script+`"`) {
		t.Errorf("audit lacks the run as the caller:\n%s", audit)
	}
	w.noLeak(t)
}

// TestRunRefusesScriptProgram: a #! script cannot be run on its own
// account (the kernel would hand /dev/fd/N to an interpreter), even when
// registered and granted --run.
func TestRunRefusesScriptProgram(t *testing.T) {
	w := newRunWorld(t, bin.keychainAuth)
	p := filepath.Join(w.progDir, "tool.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho \"A=$A\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.mustNobodyKA("register", p)
	w.mustNobodyKA("grant", p, "--run", "svc")
	r := w.shell("keychain-auth run --env A=svc/k -- " + p)
	if r.code != 3 || strings.Contains(r.stdout, marker) || !strings.Contains(r.stderr, "run_program_unsupported") && !strings.Contains(r.stderr, "is a script") {
		t.Errorf("script PROGRAM: exit %d, stdout %q, stderr %q; want 3 and run_program_unsupported", r.code, r.stdout, r.stderr)
	}
}

// TestRunKeepsFileLimit: PROGRAM starts with the soft RLIMIT_NOFILE the
// run command was given (the Go runtime raises its own at start).
func TestRunKeepsFileLimit(t *testing.T) {
	w := newRunWorld(t, bin.keychainAuth)
	rsh := w.program("rsh", w.sh)
	w.mustNobodyKA("register", rsh)
	w.mustNobodyKA("grant", rsh, "--run", "svc")
	r := w.shell("ulimit -Sn 1000 && keychain-auth run --env A=svc/k -- " + rsh + " -c 'ulimit -Sn'")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "1000" {
		t.Errorf("soft file limit in PROGRAM: %q (exit %d, stderr %q), want 1000", r.stdout, r.code, r.stderr)
	}
}

// TestLimitationRunEnvironmentReadable: the documented limit of run as
// PROGRAM. A same-user program that starts a PROGRAM granted --run reads
// the value from /proc/PID/environ while PROGRAM runs. When this fails,
// the limitation is gone: update SECURITY.md ("run") and turn it around.
func TestLimitationRunEnvironmentReadable(t *testing.T) {
	w := newRunWorld(t, bin.keychainAuth)
	rsh := w.program("rsh", w.sh)
	w.mustNobodyKA("register", rsh)
	w.mustNobodyKA("grant", rsh, "--run", "svc")
	// The attacker: a shell of the user (not registered, never granted)
	// starts PROGRAM through run in the background and reads its
	// environment.
	attack := `keychain-auth run --env A=svc/k -- ` + rsh + ` -c 'sleep 3' &
pid=$!
for i in $(seq 50); do
	if tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep '^A='; then break; fi
	sleep 0.1
done
wait`
	r := w.shell(attack)
	if !strings.Contains(r.stdout, "A="+marker) {
		t.Fatalf("a same-user program no longer reads the environment of a PROGRAM it started with run (stdout %q, stderr %q): update SECURITY.md", r.stdout, r.stderr)
	}
}

// TestRunSwapRace: the daemon hashes the program file through the CLI's
// descriptor and the CLI executes that descriptor, so the inode cannot
// change between check and exec; its bytes could, if the caller can write
// the file. The attacker (runswap, same uid) owns the program it
// registered and granted --run, and rewrites it with a shell the moment
// the daemon has closed it after hashing. Canary: against a daemon built
// with the writable check off, the swapped shell runs with the value. The
// real daemon refuses the file as run_program_writable.
func TestRunSwapRace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second keychain-auth and the attacker")
	}
	weakDir, err := os.MkdirTemp("", "kca-weak-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(weakDir) })
	os.Chmod(weakDir, 0o755)
	weak := filepath.Join(weakDir, "keychain-auth")
	smBuild(t, weak, ".", "-X github.com/keychain-auth/keychain-auth/broker.insecureRunWritable=1")
	swapper := filepath.Join(weakDir, "runswap")
	smBuild(t, swapper, "./integration/testdata/runswap", "")
	envBin, err := filepath.EvalSymlinks("/usr/bin/env")
	if err != nil {
		t.Skip("no /usr/bin/env")
	}

	attack := func(w *runWorld, attempts int) result {
		prog := filepath.Join(w.nobodyProj(), "tool") // owned by the caller
		copyFile(t, envBin, prog, 0o755)
		os.Chown(prog, 65534, 65534)
		swap := filepath.Join(w.nobodyProj(), "swap")
		copyFile(t, w.sh, swap, 0o755)
		w.mustNobodyKA("register", prog)
		w.mustNobodyKA("grant", prog, "--run", "svc")
		// Registered, it is env(1): `-c` is an error there. Swapped, it is
		// a shell that prints the value.
		return w.runEnv(nil, nobodyCred, "", swapper, prog, swap, strconv.Itoa(attempts), "--",
			"keychain-auth", "run", "--env", "A=svc/k", "--", prog, "-c", `echo "SWAPPED:$A"`)
	}

	t.Run("canary", func(t *testing.T) {
		w := newRunWorld(t, weak)
		r := attack(w, 200)
		if r.code != 0 || !strings.Contains(r.stdout, "SWAPPED:"+marker) {
			t.Fatalf("against the weakened daemon the swap never got the value through (exit %d):\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("the swapped program had the value after %d attempt(s)", strings.Count(r.stdout, "attempt "))
	})
	t.Run("real", func(t *testing.T) {
		w := newRunWorld(t, bin.keychainAuth)
		r := attack(w, 5)
		if r.code == 0 || strings.Contains(r.stdout, marker) {
			t.Fatalf("the real daemon let a swapped program have the value:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "run_program_writable") && !strings.Contains(r.stdout, "could be rewritten") {
			t.Errorf("refused without the specific reason:\n%s", r.stdout)
		}
		audit := w.mustNobodyKA("audit", "--json", "-n", "3")
		if !strings.Contains(audit, `"reason":"run_program_writable"`) {
			t.Errorf("audit lacks run_program_writable:\n%s", audit)
		}
		w.noLeak(t)
	})
}
