//go:build linux

package auth

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Attacks on script identity. In each, a program other than the registered
// script tries to be identified as the registered script file. The canary
// runs the attack against Weakening.ScriptByCwd (the old rule: relative
// paths resolved against /proc/PID/cwd, any descriptor naming the script
// accepted) and must succeed; the real verifier must leave Script nil (the
// caller stays the interpreter, which is refused as unregistered) or name
// the attacker's own file.

const (
	pyReady = "os.write(3, b'ready\\n')\nos.read(3, 10)\n"
	shReady = "echo ready >&3\nread x <&3\n"
)

// attackDirs returns the registered script's directory and the attacker's.
func attackDirs(t *testing.T) (reg, evil string) {
	base := t.TempDir()
	reg, evil = filepath.Join(base, "registered"), filepath.Join(base, "attacker")
	for _, d := range []string{reg, evil} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return reg, evil
}

// TestScriptChdirTrick: `python3 ./tool.py` runs the attacker's own
// tool.py, which then changes directory to the registered tool.py's. The
// old rule resolved "./tool.py" against the new cwd.
func TestScriptChdirTrick(t *testing.T) {
	reg, evil := attackDirs(t)
	cases := []struct {
		interp, name, registered, attacker string
	}{
		{"python3", "tool.py", "print('registered')\n",
			"import os\nos.chdir(" + quote(reg) + ")\n" + pyReady},
		{"node", "tool.js", "console.log('registered')\n",
			"const fs = require('fs')\nprocess.chdir(" + quote(reg) + ")\nfs.writeSync(3, 'ready\\n')\nsetTimeout(() => {}, 10000)\n"},
	}
	for _, c := range cases {
		t.Run(c.interp, func(t *testing.T) {
			victim := writeScript(t, reg, c.name, c.registered, 0o644)
			writeScript(t, evil, c.name, c.attacker, 0o644)
			weak := newVerifier(t, WithWeakening(Options{}, Weakening{ScriptByCwd: true}))
			wantScript(t, interpPeer(t, weak, evil, c.interp, "./"+c.name), victim) // canary
			id := interpPeer(t, newVerifier(t, Options{}), evil, c.interp, "./"+c.name)
			wantNoScript(t, id)
			if !strings.HasPrefix(filepath.Base(id.Exe.Path), c.interp[:4]) {
				t.Errorf("Exe = %s, want the interpreter", id.Exe.Path)
			}
		})
	}
}

// TestScriptInheritedFD: the attacker starts the interpreter with a
// descriptor already open on the registered script (not close-on-exec, as
// every inherited descriptor is) and runs its own file of the same name.
// dash puts its own script on the next free fd from 10 up; bash, finding
// 255 taken, on a lower one.
func TestScriptInheritedFD(t *testing.T) {
	reg, evil := attackDirs(t)
	victimSh := writeScript(t, reg, "tool.sh", "echo registered\n", 0o644)
	victimPy := writeScript(t, reg, "tool.py", "print('registered')\n", 0o644)
	ownSh := writeScript(t, evil, "tool.sh", shReady, 0o644)
	writeScript(t, evil, "tool.py", "import os\n"+pyReady, 0o644)
	cases := []struct {
		name, victim, launch string
		wantOwn              string // the attacker's own file, or "" for no Script
	}{
		{"dash fd 10", victimSh, "exec 10<" + victimSh + "; exec dash tool.sh", ownSh},
		// bash moves its own script to fd 254 then, which is not trusted.
		{"bash fd 255", victimSh, "exec 255<" + victimSh + "; exec bash tool.sh", ""},
		{"python3 fd 4", victimPy, "exec 4<" + victimPy + "; exec python3 tool.py", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			interp := strings.Fields(c.launch)[3]
			if _, err := lookPath(interp); err != nil {
				t.Skipf("%s not installed", interp)
			}
			weak := newVerifier(t, WithWeakening(Options{}, Weakening{ScriptByCwd: true}))
			wantScript(t, interpPeer(t, weak, evil, "bash", "-c", c.launch), c.victim) // canary
			id := interpPeer(t, newVerifier(t, Options{}), evil, "bash", "-c", c.launch)
			if c.wantOwn == "" {
				wantNoScript(t, id)
			} else {
				wantScript(t, id, c.wantOwn)
			}
		})
	}
}

// TestScriptSymlinkSwap: the attacker runs `python3 /its/dir/link.py` with
// the link pointing at its own code, then re-points the link at the
// registered script. Only a symlink-free absolute path is trusted.
func TestScriptSymlinkSwap(t *testing.T) {
	reg, evil := attackDirs(t)
	victim := writeScript(t, reg, "tool.py", "print('registered')\n", 0o644)
	writeScript(t, evil, "own.py", "import os\nos.remove("+quote(evil+"/link.py")+")\nos.symlink("+quote(victim)+", "+quote(evil+"/link.py")+")\n"+pyReady, 0o644)
	link := filepath.Join(evil, "link.py")
	for _, weak := range []bool{true, false} {
		os.Remove(link)
		if err := os.Symlink(filepath.Join(evil, "own.py"), link); err != nil {
			t.Fatal(err)
		}
		v := newVerifier(t, WithWeakening(Options{}, Weakening{ScriptByCwd: weak}))
		id := interpPeer(t, v, evil, "python3", link)
		if weak {
			wantScript(t, id, victim) // canary
		} else {
			wantNoScript(t, id)
		}
	}
}

// TestScriptArgvForms records what the kernel passes an interpreter for
// shebang execution, and what that means for identity: a script found
// through PATH gets its absolute path (verifiable for every interpreter);
// `./tool` gets "./tool" (verifiable only where the interpreter keeps the
// script open: bash, dash).
func TestScriptArgvForms(t *testing.T) {
	dir, _ := attackDirs(t)
	py := writeScript(t, dir, "tool-py", "#!/usr/bin/python3\nimport os\n"+pyReady, 0o755)
	sh := writeScript(t, dir, "tool-sh", "#!/bin/bash\n"+shReady, 0o755)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 not installed")
	}
	v := newVerifier(t, Options{})
	path := "PATH=" + dir + ":/usr/bin:/bin"

	id := interpPeerEnv(t, v, "/", []string{path}, "tool-py")
	wantArg(t, id, py)
	wantScript(t, id, py)

	id = interpPeerEnv(t, v, dir, nil, "./tool-py")
	wantArg(t, id, "./tool-py")
	wantNoScript(t, id) // python3 keeps no descriptor: run it by path or via PATH

	id = interpPeerEnv(t, v, "/", []string{path}, "tool-sh")
	wantArg(t, id, sh)
	wantScript(t, id, sh)

	id = interpPeerEnv(t, v, dir, nil, "./tool-sh")
	wantArg(t, id, "./tool-sh")
	wantScript(t, id, sh) // bash's fd 255 names it
}

func wantArg(t *testing.T, id *Identity, arg string) {
	t.Helper()
	if len(id.CommandLine) < 2 || id.CommandLine[1] != arg {
		t.Errorf("argv = %q, want the script argument %q", id.CommandLine, arg)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

var lookPath = exec.LookPath

// interpPeerEnv is interpPeer with extra environment for the helper (and
// so for the program it execs).
func interpPeerEnv(t *testing.T, v *Verifier, dir string, env []string, argv ...string) *Identity {
	t.Helper()
	l, sock := listen(t, "")
	if len(argv) > 0 { // else env names the program (AUTH_TEST_EXEC_FILE)
		aj, _ := json.Marshal(argv)
		env = append([]string{"AUTH_TEST_EXEC=" + string(aj)}, env...)
	}
	startClient(t, sock, client{env: env, dir: dir})
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := readLine(t, p); err != nil || line != "ready" {
		t.Fatalf("Read = %q, %v", line, err)
	}
	id, err := p.Identify()
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	return id
}

// argvRewrite is Python that overwrites its own argv area (the memory
// /proc/PID/cmdline reads) with "python3\0<script>\0", then signals ready.
const argvRewrite = `import ctypes, os
f = open('/proc/self/stat', 'rb').read().rsplit(b')', 1)[1].split()
start, end = int(f[45]), int(f[46])
new = b'python3\0' + os.environ['KCA_CLAIM'].encode() + b'\0'
ctypes.memmove(start, new.ljust(end - start, b'\0'), end - start)
os.write(3, b'ready\n'); os.read(3, 10)
`

// TestLimitationArgvRewrite is a known limitation, asserted to still work:
// code running in an interpreter can rewrite the argv the daemon reads, so
// `python3 -c` (never a script by itself) claims any registered script
// given by absolute path. Script identity is only as strong as the claim
// of the interpreter process; SECURITY.md says so. When this test fails,
// the limitation is gone: update SECURITY.md.
func TestLimitationArgvRewrite(t *testing.T) {
	reg, _ := attackDirs(t)
	victim := writeScript(t, reg, "tool.py", "print('registered')\n", 0o644)
	v := newVerifier(t, Options{})
	id := interpPeerEnv(t, v, "/", []string{"KCA_CLAIM=" + victim}, "python3", "-c", argvRewrite)
	wantScript(t, id, victim)
}
