//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scriptWithSecret registers fetch.sh (a #!/bin/sh script that prints the
// value of svc/key via the CLI) and stores the marker there.
func (e *env) scriptWithSecret() string {
	e.t.Helper()
	dir := e.projectDir()
	setter := writeScript(e.t, dir, "set.sh", "#!/bin/sh\nkeychain-auth put svc key\n")
	e.mustKA("authorize", setter, "svc")
	if r := e.runIn(dir, marker, setter); r.code != 0 {
		e.t.Fatalf("put: %+v", r)
	}
	// bash, as the attacks below start it: the entry pins the #! line's
	// interpreter, so under another one the plain run would be refused.
	fetch := writeScript(e.t, dir, "fetch.sh", "#!/bin/bash\nv=$(keychain-auth get svc key)\necho \"value:$v\"\n")
	e.mustKA("authorize", fetch, "svc")
	return fetch
}

// TestScriptOptionsRefused: an attacker starts a registered script itself
// with xtrace, verbose, PS4 or an exported function. Each is refused with
// its reason; the CLI's stderr names the reason and what to do, the audit
// line says which option or variable, and the value is nowhere in the
// output. The same script started plainly gets its value (the canary;
// auth TestAttackScriptOptions shows the verifier would otherwise take
// these runs for the script).
func TestScriptOptionsRefused(t *testing.T) {
	e := newEnv(t)
	e.start()
	fetch := e.scriptWithSecret()
	if r := e.runIn(e.home, "", "bash", fetch); !strings.Contains(r.stdout, "value:"+marker) {
		t.Fatalf("plain run (canary): %+v", r)
	}
	stolen := filepath.Join(e.home, "stolen")
	steal := "() { command keychain-auth \"$@\" | tee " + stolen + "; }"
	cases := []struct {
		name   string
		env    []string
		argv   []string
		reason string
		audit  string // what the audit line must name
	}{
		{"bash -x", nil, []string{"bash", "-x", fetch}, "unsafe_interpreter_option", "with -x"},
		{"sh -v", nil, []string{"sh", "-v", fetch}, "unsafe_interpreter_option", "with -v"},
		{"bash -o xtrace", nil, []string{"bash", "-o", "xtrace", fetch}, "unsafe_interpreter_option", "with -o xtrace"},
		{"SHELLOPTS", []string{"SHELLOPTS=xtrace"}, []string{"bash", fetch}, "unsafe_shell_variable", "SHELLOPTS"},
		{"PS4", []string{"PS4=$(touch " + stolen + ")"}, []string{"bash", fetch}, "unsafe_shell_variable", "PS4"},
		{"exported function", []string{"BASH_FUNC_keychain-auth%%=" + steal}, []string{"bash", fetch}, "unsafe_shell_variable", "BASH_FUNC_keychain-auth%%"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(stolen)
			r := e.runWith(e.home, c.env, nil, "", c.argv[0], c.argv[1:]...)
			if strings.Contains(r.stdout+r.stderr, marker) {
				t.Fatalf("value printed: %+v", r)
			}
			if b, _ := os.ReadFile(stolen); strings.Contains(string(b), marker) {
				t.Fatalf("value stolen through %s", c.name)
			}
			if !strings.Contains(r.stderr, "denied: "+c.reason) || !strings.Contains(r.stderr, "keychain-auth: hint: ") {
				t.Errorf("stderr %q does not name %s with a hint", r.stderr, c.reason)
			}
			audit := e.mustKA("audit", "--json", "-n", "1")
			if !strings.Contains(audit, `"reason":"`+c.reason+`"`) || !strings.Contains(audit, c.audit) {
				t.Errorf("audit line lacks %s and %q:\n%s", c.reason, c.audit, audit)
			}
		})
	}
	if pend := e.mustKA("list-pending"); strings.Contains(pend, "bash") || strings.Contains(pend, "dash") {
		t.Errorf("a shell was queued for approval (it is not a program to approve):\n%s", pend)
	}
}
