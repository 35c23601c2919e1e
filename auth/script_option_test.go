//go:build linux

package auth

import (
	"testing"
)

// TestAttackScriptOptions: the attacker starts a registered shell script
// itself, with an option or a variable that makes the shell print the
// commands it runs (a secret among their arguments) or run the attacker's
// code as the script: -x, -v, -o xtrace, SHELLOPTS=xtrace, PS4 with a
// command substitution, an exported function. The canary
// (NoScriptOptionCheck) identifies the script all the same; the real
// verifier refuses it with the specific reason.
func TestAttackScriptOptions(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "tool.sh", shReady, 0o644)
	cases := []struct {
		name   string
		env    []string
		argv   []string
		reason string
	}{
		{"bash -x", nil, []string{"bash", "-x", s}, ReasonUnsafeInterpreterOption},
		{"bash -ex", nil, []string{"bash", "-ex", s}, ReasonUnsafeInterpreterOption},
		{"bash -v", nil, []string{"bash", "-v", s}, ReasonUnsafeInterpreterOption},
		{"bash -o xtrace", nil, []string{"bash", "-o", "xtrace", s}, ReasonUnsafeInterpreterOption},
		{"bash -o verbose", nil, []string{"bash", "-e", "-o", "verbose", s}, ReasonUnsafeInterpreterOption},
		{"dash -x", nil, []string{"dash", "-x", s}, ReasonUnsafeInterpreterOption},
		{"SHELLOPTS=xtrace", []string{"SHELLOPTS=xtrace"}, []string{"bash", s}, ReasonUnsafeShellVariable},
		{"SHELLOPTS=errexit:verbose", []string{"SHELLOPTS=errexit:verbose"}, []string{"bash", s}, ReasonUnsafeShellVariable},
		{"BASHOPTS=extdebug", []string{"BASHOPTS=extdebug"}, []string{"bash", s}, ReasonUnsafeShellVariable},
		{"PS4", []string{"PS4=$(id >&2)"}, []string{"bash", s}, ReasonUnsafeShellVariable},
		{"exported function", []string{"BASH_FUNC_ls%%=() { echo owned; }"}, []string{"bash", s}, ReasonUnsafeShellVariable},
		{"exported function, dash", []string{"BASH_FUNC_ls%%=() { echo owned; }"}, []string{"dash", s}, ReasonUnsafeShellVariable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := lookPath(c.argv[0]); err != nil {
				t.Skipf("%s not installed", c.argv[0])
			}
			weak := newVerifier(t, WithWeakening(Options{}, Weakening{NoScriptOptionCheck: true}))
			wantScript(t, interpPeerEnv(t, weak, dir, c.env, c.argv...), s) // canary
			id := interpPeerEnv(t, newVerifier(t, Options{}), dir, c.env, c.argv...)
			wantNoScript(t, id)
			if id.ScriptRefused == nil || id.ScriptRefused.Reason != c.reason {
				t.Fatalf("ScriptRefused = %v, want %s", id.ScriptRefused, c.reason)
			}
		})
	}
}

// TestScriptHarmlessOptions: options and variables that neither print nor
// run code keep the script's identity.
func TestScriptHarmlessOptions(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "tool.sh", shReady, 0o644)
	cases := []struct {
		env  []string
		argv []string
	}{
		{nil, []string{"bash", "-eu", "-o", "pipefail", s}},
		{[]string{"SHELLOPTS=braceexpand:errexit:hashall"}, []string{"bash", s}},
		{[]string{"BASHOPTS=extglob:nullglob", "PS4="}, []string{"bash", s}},
		{[]string{"MY_FUNC%%=x", "PS1=$ "}, []string{"bash", s}},
	}
	v := newVerifier(t, Options{})
	for _, c := range cases {
		id := interpPeerEnv(t, v, dir, c.env, c.argv...)
		wantScript(t, id, s)
		if id.ScriptRefused != nil {
			t.Errorf("%q %q: refused %v", c.env, c.argv, id.ScriptRefused)
		}
	}
}
