//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 8 item 7: a denial tells the person who has to act what to do.
// Each test below makes one situation happen for real (a changed script or
// program, keychain-auth upgraded under a running daemon, a script in a
// directory others can write, a script named by a relative path), checks
// the CLI's stderr (or the wire answer, for a program) and the audit
// line's reason and detail, then follows the advice and checks that it
// works, so that a hint that names the wrong fix fails the test.

// lastAudit returns the newest audit line, decoded.
func (e *env) lastAudit() map[string]any {
	e.t.Helper()
	out := e.mustKA("audit", "--json", "-n", "1")
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rec); err != nil {
		e.t.Fatalf("audit line %q: %v", out, err)
	}
	return rec
}

// wantAudit checks the newest audit line's reason, and that its detail
// holds every one of want.
func (e *env) wantAudit(reason string, want ...string) {
	e.t.Helper()
	rec := e.lastAudit()
	detail, _ := rec["detail"].(string)
	if rec["reason"] != reason {
		e.t.Errorf("audit reason %v, want %s: %v", rec["reason"], reason, rec)
	}
	for _, w := range want {
		if !strings.Contains(detail, w) {
			e.t.Errorf("audit detail %q lacks %q", detail, w)
		}
	}
}

// wantHint checks that stderr has an error line with reason and hint
// lines that hold every one of want.
func wantHint(t *testing.T, r result, code int, errText string, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d: %+v", r.code, code, r)
	}
	if !strings.Contains(r.stderr, "keychain-auth: error: "+errText) {
		t.Errorf("stderr %q lacks the error %q", r.stderr, errText)
	}
	var hints string
	for _, l := range strings.Split(r.stderr, "\n") {
		if h, ok := strings.CutPrefix(l, "keychain-auth: hint: "); ok {
			hints += h + "\n"
		}
	}
	for _, w := range want {
		if !strings.Contains(hints, w) {
			t.Errorf("hints %q lack %q", hints, w)
		}
	}
}

// fetchScript stores the marker (scriptWithSecret) and registers a script
// in dir that prints the value and exits with the CLI's code.
func (e *env) fetchScript(dir string) string {
	e.t.Helper()
	e.scriptWithSecret()
	fetch := writeScript(e.t, dir, "get.sh", "#!/bin/sh\nv=$(keychain-auth get svc key) || exit $?\necho \"value:$v\"\n")
	e.mustKA("authorize", fetch, "svc")
	return fetch
}

// A registered script that changed since it was registered: the CLI says
// its hash changed and names `keychain-auth upgrade PATH`; after that
// command the script gets its value.
func TestHintChangedScript(t *testing.T) {
	e := newEnv(t)
	e.start()
	fetch := e.fetchScript(e.projectDir())
	if err := os.WriteFile(fetch, []byte("#!/bin/sh\n# edited\nv=$(keychain-auth get svc key) || exit $?\necho \"value:$v\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := e.run("", fetch)
	if strings.Contains(r.stdout+r.stderr, marker) {
		t.Fatalf("changed script got the value: %+v", r)
	}
	upgrade := "`keychain-auth upgrade " + fetch + "`"
	wantHint(t, r, 5, "this program is not registered", fetch+" is registered, but its hash changed", upgrade)
	e.wantAudit("unregistered_binary_pending_approval", "hash changed", upgrade)

	e.mustKA("upgrade", fetch)
	if r := e.run("", fetch); !strings.Contains(r.stdout, "value:"+marker) {
		t.Fatalf("after upgrade, as the hint says: %+v", r)
	}
}

// A registered program (a Go client of the socket) that changed: the
// denial on the wire carries the same hint, and the audit line too. An
// unregistered program gets no such hint: it learns nothing about the
// policy beyond the reason code.
func TestHintChangedProgram(t *testing.T) {
	e := newEnv(t)
	e.start()
	prog := filepath.Join(e.projectDir(), "client")
	copyFile(t, bin.relay, prog, 0o755)
	e.mustKA("authorize", prog, "svc")
	other := filepath.Join(e.projectDir(), "other")
	copyFile(t, bin.relay, other, 0o755)
	f, err := os.OpenFile(prog, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("changed") // still runs: the loader ignores bytes past the image
	f.Close()
	read := `{"type":"REQUEST","action":"read","service":"svc","targets":["key"]}`
	r := e.run(read+"\n", prog, "-socket", e.socket, "-write-first")
	var resp struct{ Status, Reason, Hint string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &resp); err != nil {
		t.Fatalf("answer %q: %v (%s)", r.stdout, err, r.stderr)
	}
	upgrade := "`keychain-auth upgrade " + prog + "`"
	if resp.Reason != "unregistered_binary_pending_approval" || !strings.Contains(resp.Hint, upgrade) {
		t.Errorf("answer %+v, want pending approval with a hint naming %s", resp, upgrade)
	}
	e.wantAudit("unregistered_binary_pending_approval", upgrade)

	r = e.run(read+"\n", other, "-socket", e.socket, "-write-first")
	if !strings.Contains(r.stdout, "unregistered_binary_pending_approval") || strings.Contains(r.stdout, "hint") {
		t.Errorf("unregistered program's answer %q, want the bare reason", r.stdout)
	}
}

// keychain-auth replaced by another build (an upgrade) while `serve` runs
// the old one: a script that calls it is told to restart serve, the audit
// line says keychain_auth_upgraded, keychain-auth itself is not queued for
// approval, and after a restart the script gets its value again.
func TestHintKeychainAuthUpgraded(t *testing.T) {
	e := newEnv(t)
	binDir := filepath.Join(e.home, "opt")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(binDir, "keychain-auth")
	copyFile(t, bin.keychainAuth, installed, 0o755)
	e.startDaemon(installed, nil)
	dir := e.projectDir()
	setter := writeScript(t, dir, "set.sh", "#!/bin/sh\n"+installed+" put svc key\n")
	e.mustKA("authorize", setter, "svc")
	if r := e.runIn(dir, marker, setter); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	fetch := writeScript(t, dir, "fetch.sh", "#!/bin/sh\nv=$("+installed+" get svc key) || exit $?\necho \"value:$v\"\n")
	e.mustKA("authorize", fetch, "svc")
	if r := e.run("", fetch); !strings.Contains(r.stdout, "value:"+marker) {
		t.Fatalf("before the upgrade: %+v", r)
	}

	// The upgrade: another build written beside it and renamed over it,
	// as a package manager does; the daemon keeps running the old image.
	b, err := os.ReadFile(bin.keychainAuth)
	if err != nil {
		t.Fatal(err)
	}
	next := installed + ".new"
	if err := os.WriteFile(next, append(b, "another build"...), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, installed); err != nil {
		t.Fatal(err)
	}
	r := e.run("", fetch)
	if strings.Contains(r.stdout+r.stderr, marker) {
		t.Fatalf("value printed: %+v", r)
	}
	wantHint(t, r, 3, "denied: keychain_auth_upgraded", "keychain-auth at "+installed+" is not the build the running daemon started from", "restart `keychain-auth serve`")
	e.wantAudit("keychain_auth_upgraded", "restart `keychain-auth serve`")
	// `status`, the first thing one runs then, says the same.
	wantHint(t, e.run("", installed, "status"), 3, "denied: keychain_auth_upgraded", "restart `keychain-auth serve`")
	if pend := e.mustKA("list-pending"); strings.Contains(pend, installed) {
		t.Errorf("keychain-auth itself was queued for approval:\n%s", pend)
	}

	e.stop()
	e.startDaemon(installed, nil)
	if r := e.run("", fetch); !strings.Contains(r.stdout, "value:"+marker) {
		t.Fatalf("after restarting serve, as the hint says: %+v", r)
	}
}

// A registered script whose directory, or the file itself, others can
// write: refused with script_writable_by_others, naming the directory or
// file and the chmod that fixes it; after that chmod it gets its value.
func TestHintScriptInWritableDir(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := filepath.Join(e.home, "tools")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fetch := e.fetchScript(dir)
	cases := []struct {
		name, path string
		mode       os.FileMode
		want       string
	}{
		{"directory", dir, 0o777, "the directory " + dir + " that holds " + fetch},
		{"group-writable directory", dir, 0o775, "the directory " + dir},
		{"script file", fetch, 0o757, "the script " + fetch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.Chmod(c.path, c.mode); err != nil {
				t.Fatal(err)
			}
			r := e.run("", fetch)
			if strings.Contains(r.stdout+r.stderr, marker) {
				t.Fatalf("value printed: %+v", r)
			}
			chmod := "chmod go-w " + c.path
			wantHint(t, r, 3, "denied: script_writable_by_others", c.want, "writable by others", chmod)
			e.wantAudit("script_writable_by_others", c.want, chmod)
			if err := os.Chmod(c.path, c.mode&^0o022); err != nil { // what the hint says
				t.Fatal(err)
			}
			if r := e.run("", fetch); !strings.Contains(r.stdout, "value:"+marker) {
				t.Fatalf("after %s: %+v", chmod, r)
			}
		})
	}
	if pend := e.mustKA("list-pending"); strings.Contains(pend, "dash") || strings.Contains(pend, "/bin/sh") {
		t.Errorf("the shell was queued for approval:\n%s", pend)
	}
}

// A registered Python script started by a relative path (`python3
// tool.py`, or `./tool.py` through its #! line, where the kernel passes
// the path as typed): refused with script_path_relative and told to use
// the absolute path; started by its absolute path it gets its value.
func TestHintRelativeInterpreterArgument(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	e := newEnv(t)
	e.start()
	e.scriptWithSecret() // stores the value
	dir := e.projectDir()
	tool := writeScript(t, dir, "tool.py", "#!/usr/bin/env python3\nimport subprocess\n"+
		"v = subprocess.run(['keychain-auth', 'get', 'svc', 'key'], capture_output=True, text=True)\n"+
		"print('value:' + v.stdout.strip())\nimport sys\nsys.stderr.write(v.stderr)\nsys.exit(v.returncode)\n")
	e.mustKA("authorize", tool, "svc")
	for _, argv := range [][]string{{"python3", "tool.py"}, {"./tool.py"}} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			r := e.runIn(dir, "", argv[0], argv[1:]...)
			if strings.Contains(r.stdout+r.stderr, marker) {
				t.Fatalf("value printed: %+v", r)
			}
			wantHint(t, r, 3, "denied: script_path_relative", `by the relative path "`, "use the absolute path")
			e.wantAudit("script_path_relative", "relative path", "use the absolute path")
		})
	}
	python3, err := envLookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.runIn(dir, "", python3, tool); !strings.Contains(r.stdout, "value:"+marker) {
		t.Fatalf("by its absolute path, as the hint says: %+v", r)
	}
	if pend := e.mustKA("list-pending"); strings.Contains(pend, "python") {
		t.Errorf("python was queued for approval:\n%s", pend)
	}
}
