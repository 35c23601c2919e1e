//go:build linux

package auth

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// interpPeer runs argv (an interpreter) as the connecting process: the
// helper connects, puts the connection on fd 3 and execs argv, which must
// write a line to fd 3 once it runs.
func interpPeer(t *testing.T, v *Verifier, dir string, argv ...string) *Identity {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("%s not installed", argv[0])
	}
	return interpPeerEnv(t, v, dir, nil, argv...)
}

func writeScript(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func wantScript(t *testing.T, id *Identity, path string) {
	t.Helper()
	if id.Script == nil {
		t.Fatalf("no Script for %q (exe %s)", id.CommandLine, id.Exe.Path)
	}
	if id.Script.Path != path || id.Script.Hash != fileHash(t, path) {
		t.Errorf("Script = %+v, want %s %s", *id.Script, path, fileHash(t, path))
	}
}

func wantNoScript(t *testing.T, id *Identity) {
	t.Helper()
	if id.Script != nil {
		t.Errorf("Script = %+v for %q, want none", *id.Script, id.CommandLine)
	}
}

// TestBashScriptAfterCd: bash reads the script through fd 255, which still
// names it after the script changed directory.
func TestBashScriptAfterCd(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "tool.sh", "cd /\necho ready >&3\nread x <&3\n", 0o644)
	id := interpPeer(t, newVerifier(t, Options{}), dir, "bash", "-e", "./tool.sh")
	wantScript(t, id, s)
	if filepath.Base(id.Exe.Path) != "bash" {
		t.Errorf("Exe = %s", id.Exe.Path)
	}
}

func TestPython3Script(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "tool.py", "import os\nos.write(3, b'ready\\n')\nos.read(3, 10)\n", 0o644)
	id := interpPeer(t, newVerifier(t, Options{}), dir, "python3", "-u", s) // absolute: python3 keeps no descriptor
	wantScript(t, id, s)
}

func TestNoScriptForInlineCode(t *testing.T) {
	dir := t.TempDir()
	reg := writeScript(t, dir, "registered.py", "print('x')\n", 0o644)
	regSh := writeScript(t, dir, "registered.sh", "true\n", 0o644)
	regJs := writeScript(t, dir, "registered.js", "1\n", 0o644)
	cases := [][]string{
		{"bash", "-c", "echo ready >&3; read x <&3", "bash", regSh},
		{"python3", "-c", "import os; os.write(3, b'ready\\n'); os.read(3, 10)", reg},
		{"node", "-e", "require('fs').writeSync(3, 'ready\\n'); setTimeout(() => {}, 5000)", regJs},
	}
	for _, argv := range cases {
		t.Run(argv[0], func(t *testing.T) {
			wantNoScript(t, interpPeer(t, newVerifier(t, Options{}), dir, argv...))
		})
	}
	// Canary: the naive argv scan takes the registered path.
	weak := newVerifier(t, WithWeakening(Options{}, Weakening{NoScriptArgvCheck: true}))
	wantScript(t, interpPeer(t, weak, dir, cases[1]...), reg)
}

func TestGroupWritableScript(t *testing.T) {
	dir := t.TempDir()
	body := "echo ready >&3\nread x <&3\n"
	s := writeScript(t, dir, "tool.sh", body, 0o664)
	weak := newVerifier(t, WithWeakening(Options{}, Weakening{NoScriptFileCheck: true}))
	wantScript(t, interpPeer(t, weak, dir, "bash", s), s) // canary
	wantNoScript(t, interpPeer(t, newVerifier(t, Options{}), dir, "bash", s))
}

func TestScriptInWritableDir(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	s := writeScript(t, dir, "tool.sh", "echo ready >&3\nread x <&3\n", 0o644)
	wantNoScript(t, interpPeer(t, newVerifier(t, Options{}), dir, "bash", s))
}
