//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doctorChecks are the checks every doctor run reports with a daemon up.
var doctorChecks = []string{"mode", "store", "at rest", "policy", "pending", "endpoint", "versions", "kernel", "files"}

type doctorReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Check, Verdict, Detail, Fix string
	} `json:"checks"`
}

func (e *env) doctorJSON() (doctorReport, result) {
	e.t.Helper()
	r := e.ka("", "doctor", "--json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		e.t.Fatalf("doctor --json: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return rep, r
}

func (rep doctorReport) verdict(check string) (string, string) {
	for _, c := range rep.Checks {
		if c.Check == check {
			return c.Verdict, c.Detail + " / fix: " + c.Fix
		}
	}
	return "", ""
}

// Doctor on a healthy setup: every check reports, none fails, exit 0.
func TestDoctorHealthy(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	r := e.ka("", "doctor")
	if r.code != 0 {
		t.Fatalf("doctor on a healthy setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(doctorChecks) {
		t.Errorf("doctor printed %d lines, want one per check (%d):\n%s", len(lines), len(doctorChecks), r.stdout)
	}
	rep, _ := e.doctorJSON()
	if !rep.OK {
		t.Errorf("doctor --json: ok false on a healthy setup: %+v", rep)
	}
	for _, name := range doctorChecks {
		v, d := rep.verdict(name)
		if v == "" || v == "fail" {
			t.Errorf("check %q: verdict %q (%s)", name, v, d)
		}
	}
	if v, d := rep.verdict("at rest"); v != "ok" || !strings.Contains(d, "passphrase") {
		t.Errorf("at rest with a passphrase vault: %s %s", v, d)
	}
	if v, d := rep.verdict("endpoint"); v != "ok" || !strings.Contains(d, e.socket) {
		t.Errorf("endpoint: %s %s, want %s", v, d, e.socket)
	}
	if v, d := rep.verdict("mode"); v != "note" || !strings.Contains(d, "user mode") {
		t.Errorf("mode: %s %s", v, d)
	}
}

// Doctor on a broken setup: a misspelled policy field is named with the
// field it meant, a waiting program, a file open to others and a daemon
// that is not running each fail or warn, with the fix; exit 1.
func TestDoctorBroken(t *testing.T) {
	e := newEnv(t)
	e.start()
	script := writeScript(t, e.projectDir(), "unknown.sh", "#!/bin/sh\nkeychain-auth get svc k\nexit $?\n")
	if r := e.runIn(e.projectDir(), "", script); r.code != 5 {
		t.Fatalf("unregistered script: exit %d, want 5 (%s)", r.code, r.stderr)
	}
	tool := writeScript(t, e.projectDir(), "tool.sh", "#!/bin/sh\nkeychain-auth get svc tool\nexit $?\n")
	e.mustKA("register", tool)
	cfgPath := filepath.Join(e.home, ".config", "keychain-auth", "config.json")
	raw := string(mustRead(t, cfgPath))
	raw = strings.Replace(raw, `"allowed_read_services"`, `"alowed_read_services"`, 1)
	if err := os.WriteFile(cfgPath, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(e.home, ".local", "share", "keychain-auth", "audit.log")
	if err := os.Chmod(auditPath, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, r := e.doctorJSON()
	if r.code != 1 || rep.OK {
		t.Errorf("doctor on a broken setup: exit %d ok %v, want 1 and false", r.code, rep.OK)
	}
	for _, c := range []struct{ check, verdict, want string }{
		{"policy", "fail", "registered_binaries[0].alowed_read_services (did you mean allowed_read_services?)"},
		{"pending", "warn", "unknown.sh"},
		{"files", "fail", "chmod 600 " + auditPath},
		{"at rest", "warn", "passwd"},
	} {
		if v, d := rep.verdict(c.check); v != c.verdict || !strings.Contains(d, c.want) {
			t.Errorf("check %s: %s %q, want %s containing %q", c.check, v, d, c.verdict, c.want)
		}
	}
	// A policy that does not parse.
	if err := os.WriteFile(cfgPath, []byte(`{"registered_binaries":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _ = e.doctorJSON()
	if v, d := rep.verdict("policy"); v != "fail" || !strings.Contains(d, "does not parse") {
		t.Errorf("policy that does not parse: %s %q", v, d)
	}
	if out := e.mustKA("status"); !strings.Contains(out, "policy:   does not parse") {
		t.Errorf("status with a policy that does not parse:\n%s", out)
	}
	// No daemon.
	e.stop()
	rep, r = e.doctorJSON()
	if v, d := rep.verdict("daemon"); r.code != 1 || v != "fail" || !strings.Contains(d, "keychain-auth serve") {
		t.Errorf("doctor without a daemon: exit %d, daemon check %s %q", r.code, v, d)
	}
	if r := e.ka("", "doctor"); r.code != 1 || !strings.Contains(r.stderr, "need action") {
		t.Errorf("doctor (text) on a broken setup: exit %d stderr %q", r.code, r.stderr)
	}
}
