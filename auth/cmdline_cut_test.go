//go:build linux

package auth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttackCmdlineCut: python3 runs the attacker's tool.py_x.py, planted
// beside the registered tool.py, with harmless options padding its command
// line so that the daemon's bound on /proc/PID/cmdline falls right after
// ".../tool.py". No code runs inside the interpreter to claim anything: a
// prefix read of the command line alone names the registered script. The
// canary takes the script from the cut command line; the real verifier
// refuses script identity with command_line_truncated.
func TestAttackCmdlineCut(t *testing.T) {
	reg, _ := attackDirs(t)
	victim := writeScript(t, reg, "tool.py", "print('registered')\n", 0o644)
	own := writeScript(t, reg, "tool.py_x.py", "import os\n"+pyReady, 0o644)
	argv := paddedArgv(t, systemPython(t), victim, own)

	weak := newVerifier(t, WithWeakening(Options{}, Weakening{NoCmdlineCutCheck: true}))
	id := cutPeer(t, weak, argv)
	if !id.CommandLineCut {
		t.Fatalf("command line of %d arguments was not cut", len(argv))
	}
	// canary: the cut argument names the registered script
	if id.Script == nil || id.Script.Path != victim || id.Script.Hash != fileHash(t, victim) {
		t.Fatalf("weakened: Script = %v, want %s", id.Script, victim)
	}

	id = cutPeer(t, newVerifier(t, Options{}), argv)
	if id.Script != nil {
		t.Errorf("Script = %v, want none", id.Script)
	}
	if id.ScriptRefused == nil || id.ScriptRefused.Reason != ReasonCommandLineTruncated {
		t.Fatalf("ScriptRefused = %v, want %s", id.ScriptRefused, ReasonCommandLineTruncated)
	}
}

// systemPython is an interpreter binary run directly (a pyenv shim would
// exec it with another argv[0], and the padding is computed from argv[0]).
func systemPython(t *testing.T) string {
	t.Helper()
	const p = "/usr/bin/python3"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not installed", p)
	}
	return p
}

// TestLongCmdlineWhole: a command line longer than the old 256 KiB read but
// under the bound is read whole, and its script is identified.
func TestLongCmdlineWhole(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "tool.py", "import os\n"+pyReady, 0o644)
	argv := []string{systemPython(t), s}
	for len(strings.Join(argv, " ")) < 600<<10 {
		argv = append(argv, strings.Repeat("a", 100<<10))
	}
	id := cutPeer(t, newVerifier(t, Options{}), argv)
	if id.CommandLineCut || id.ScriptRefused != nil {
		t.Fatalf("cut %v, refused %v", id.CommandLineCut, id.ScriptRefused)
	}
	if id.Script == nil || id.Script.Path != s {
		t.Errorf("Script = %v, want %s", id.Script, s)
	}
	if len(id.CommandLine) != len(argv) {
		t.Errorf("read %d arguments, want %d", len(id.CommandLine), len(argv))
	}
}

// paddedArgv is interp, harmless "-uuu..." options, then run, sized so that
// the first maxCmdline bytes of the command line end exactly with claim
// (run must start with claim).
func paddedArgv(t *testing.T, interp, claim, run string) []string {
	t.Helper()
	if !strings.HasPrefix(run, claim) {
		t.Fatalf("%s does not start with %s", run, claim)
	}
	const maxArg = 128 << 10 // MAX_ARG_STRLEN, with the NUL
	argv := []string{interp}
	rest := maxCmdline - (len(interp) + 1) - len(claim)
	for rest > 0 {
		n := min(rest, maxArg)
		if rest-n > 0 && rest-n < 3 {
			n -= 3 // leave room for a last "-u\0"
		}
		argv = append(argv, "-"+strings.Repeat("u", n-2))
		rest -= n
	}
	return append(argv, run)
}

// cutPeer runs argv (too long to pass in one environment variable) as the
// connecting process.
func cutPeer(t *testing.T, v *Verifier, argv []string) *Identity {
	t.Helper()
	if _, err := lookPath(argv[0]); err != nil {
		t.Skipf("%s not installed", argv[0])
	}
	aj, _ := json.Marshal(argv)
	file := filepath.Join(t.TempDir(), "argv.json")
	if err := os.WriteFile(file, aj, 0o644); err != nil {
		t.Fatal(err)
	}
	return interpPeerEnv(t, v, "/", []string{"AUTH_TEST_EXEC_FILE=" + file})
}
