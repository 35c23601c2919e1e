//go:build linux

package auth

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// Tests of kept identities beyond a plain executable (pin_linux.go): a
// script's, and a courier's, each answered from the identity found at
// admission only while what it rests on is unchanged.

// keptScriptClient is Python that connects to argv[1], writes "one",
// waits for a byte, waits for a line on the fifo argv[2], writes "two",
// and waits for a byte.
const keptScriptClient = `import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'one\n'); s.recv(1)
open(sys.argv[2]).read(1)
s.sendall(b'two\n'); s.recv(1)
`

// TestKeptScript: a Python client of the socket, run as a registered
// script, is identified at admission and its first request is answered
// from that identity. Between its two requests something near the script
// changes:
//   - the script is written to (a new version: a new hash). Canary: without
//     the re-checks the kept identity names the old hash;
//   - the directory that holds it becomes group-writable, which the
//     script's checks refuse (script_writable_by_others) but which a stat
//     of the script itself does not show. Canary: a kept script looked at
//     with a stat, as an image is, keeps the identity.
func TestKeptScript(t *testing.T) {
	python, err := lookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (.ci/run installs it)")
	}
	for _, c := range []struct {
		name   string
		weak   Weakening
		change func(t *testing.T, dir, script string)
		check  func(t *testing.T, id *Identity, old string)
	}{
		{"script written", Weakening{NoKeptRecheck: true}, func(t *testing.T, _, script string) {
			f, err := os.OpenFile(script, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("# changed\n"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, id *Identity, old string) {
			if id.Script == nil || id.Script.Hash == old {
				t.Fatalf("the script's new version went unseen: %+v", id.Script)
			}
		}},
		{"directory made writable", Weakening{KeptScriptByStat: true}, func(t *testing.T, dir, _ string) {
			if err := os.Chmod(dir, 0o775); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, id *Identity, _ string) {
			if id.Script != nil || id.ScriptRefused == nil || id.ScriptRefused.Reason != ReasonScriptWritableByOthers {
				t.Fatalf("script %+v refused %v; want it refused %s", id.Script, id.ScriptRefused, ReasonScriptWritableByOthers)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, weak := range []bool{true, false} {
				dir, _ := attackDirs(t)
				script := writeScript(t, dir, "client.py", keptScriptClient, 0o644)
				opts := Options{}
				if weak {
					opts = WithWeakening(opts, c.weak)
				}
				v := newVerifier(t, opts)
				ownWatcher(t, v)
				l, sock := listen(t, "")
				fifo := makeFifo(t)
				cmd := exec.Command(python, script, sock, fifo)
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				p, err := acceptPeer(t, l, v)
				if err != nil {
					t.Fatal(err)
				}
				first := identifyRequests(t, p, v, "one")
				wantScript(t, first, script)
				c.change(t, dir, script)
				release(t, fifo)
				if line, err := readLine(t, p); err != nil || line != "two" {
					t.Fatalf("second request: %q, %v", line, err)
				}
				id, err := p.Identify()
				if err != nil {
					t.Fatal(err)
				}
				if weak {
					if id.Script == nil || id.Script.Hash != first.Script.Hash {
						t.Fatalf("canary: the kept identity should still name the first version: %+v", id.Script)
					}
					continue
				}
				c.check(t, id, first.Script.Hash)
			}
		})
	}
}

// ownWatcher gives v a watcher of its own: the process's default one may
// still hold events of earlier tests, and a Check that takes them in moves
// its generation (a kept script is then identified again, which is safe
// but not what these tests look at).
func ownWatcher(t *testing.T, v *Verifier) {
	t.Helper()
	w, err := fresh.New(fresh.Weakening{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	v.watcher = w
}

// identifyRequests identifies p at admission, then reads its first
// request, want, which must be answered from the identity kept at
// admission (no full identification), and answers it with a byte.
func identifyRequests(t *testing.T, p *Peer, v *Verifier, want string) *Identity {
	t.Helper()
	if _, err := p.Identify(); err != nil {
		t.Fatalf("admission: %v", err)
	}
	if p.sys.cached == nil {
		t.Fatal("the identity found at admission is not kept")
	}
	if line, err := readLine(t, p); err != nil || line != want {
		t.Fatalf("first request: %q, %v", line, err)
	}
	before := v.full.Load()
	id, err := p.Identify()
	if err != nil {
		t.Fatal(err)
	}
	if n := v.full.Load() - before; n != 0 {
		t.Fatalf("first request took %d full identifications; want it answered from the admission's", n)
	}
	if _, err := p.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	return id
}

// courierSession starts a parent (the test binary as "spawnwait") whose
// child is the CLI (a copy of the test binary that the verifier takes for
// keychain-auth), which connects and waits on a fifo before it writes.
// It identifies the CLI at admission (a courier for the parent: kept),
// calls between with the parent's pid, a function that lets the parent
// go on (it execs parentExec, or without one prints "parked"), and the
// parent's stdout; then it lets the CLI write and returns the
// identification of that request.
func courierSession(t *testing.T, weak Weakening, parentExec string, between func(parent *exec.Cmd, goOn func(), out *bufio.Reader)) (*Identity, int64, error) {
	t.Helper()
	dir := t.TempDir()
	cli := copyBinary(t, dir, "keychain-auth", "\x00courier")
	v := newVerifier(t, WithWeakening(Options{SelfHash: fileHash(t, cli)}, weak))
	ownWatcher(t, v)
	l, sock := listen(t, "")
	cliFifo, parentFifo := makeFifo(t), makeFifo(t)
	cmd := exec.Command(testBinary(t))
	cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=spawnwait", "AUTH_TEST_SOCK="+sock,
		"AUTH_TEST_SPAWN="+cli, "AUTH_TEST_PIN_FIFO="+cliFifo,
		"AUTH_TEST_PARENT_FIFO="+parentFifo, "AUTH_TEST_PARENT_EXEC="+parentExec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	admitted, err := p.Identify()
	if err != nil {
		t.Fatalf("admission: %v", err)
	}
	if admitted.Courier == nil || admitted.PID != cmd.Process.Pid || p.sys.cached == nil {
		t.Fatalf("admission: %+v (kept: %v); want the courier's parent %d, kept", admitted, p.sys.cached != nil, cmd.Process.Pid)
	}
	between(cmd, func() { release(t, parentFifo) }, bufio.NewReader(out))
	release(t, cliFifo)
	if line, err := readLine(t, p); err != nil || line != "hello" {
		t.Fatalf("request: %q, %v", line, err)
	}
	before := v.full.Load()
	id, err := p.Identify()
	return id, v.full.Load() - before, err
}

// wantParent fails unless id is a courier's identity for pid.
func wantParent(t *testing.T, id *Identity, err error, pid int) {
	t.Helper()
	if err != nil || id.Courier == nil || id.PID != pid {
		t.Fatalf("request: %+v, %v; want the courier's parent %d", id, err, pid)
	}
}

// TestKeptCourierParentExec: the CLI's parent execs another program after
// the CLI was admitted and before its request. The courier rule speaks for
// the parent as it is when the request is read, and the parent's pinned
// address space shows the exec: the request is identified as the program
// the parent runs now, as it always was. Canary: without the parent's
// re-check the kept identity names the parent as it was at admission.
func TestKeptCourierParentExec(t *testing.T) {
	approved := copyBinary(t, t.TempDir(), "approved", "\x00approved")
	for _, weak := range []bool{true, false} {
		var pid int
		id, _, err := courierSession(t, Weakening{NoParentRecheck: weak}, approved, func(parent *exec.Cmd, goOn func(), out *bufio.Reader) {
			pid = parent.Process.Pid
			goOn()
			waitParked(t, out)
		})
		wantParent(t, id, err, pid)
		if weak {
			if id.Exe.Path == approved {
				t.Fatal("canary: the kept identity should still name the parent as it was at admission")
			}
			continue
		}
		if id.Exe.Path != approved {
			t.Fatalf("identified as %s; want the program the parent runs now, %s", id.Exe.Path, approved)
		}
	}
}

// TestKeptCourierParentTraced: a tracer attaches to the CLI's parent after
// the CLI was admitted. Canary: without the parent's re-check the kept
// identity says untraced; the real check, still answering from the kept
// identity, reports the tracer (which the policy refuses: traced_process).
func TestKeptCourierParentTraced(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed (.ci/run installs it)")
	}
	for _, weak := range []bool{true, false} {
		var pid int
		id, full, err := courierSession(t, Weakening{NoParentRecheck: weak}, "", func(parent *exec.Cmd, goOn func(), out *bufio.Reader) {
			pid = parent.Process.Pid
			tr := exec.Command(strace, "-o", "/dev/null", "-p", itoa(pid))
			tr.Stderr = io.Discard
			if err := tr.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tr.Process.Kill(); tr.Wait() })
			waitTraced(t, pid)
			goOn()
			waitParked(t, out)
		})
		wantParent(t, id, err, pid)
		if weak && id.TracerPID != 0 {
			t.Fatalf("canary: the kept identity without the parent's re-check should miss the tracer, got %d", id.TracerPID)
		}
		if !weak && (id.TracerPID == 0 || full != 0) {
			t.Fatalf("tracer %d after %d full identifications; want the tracer seen by the kept identity's re-check", id.TracerPID, full)
		}
	}
}

// TestKeptCourierParentExited: the CLI's parent is killed and reaped after
// the CLI was admitted; the CLI, now another process's child, sends its
// request. It must not be answered as the dead parent: the parent's pin
// no longer reads, and the full identification follows the CLI's new
// parent (or refuses it). Canary: without the parent's re-check the kept
// identity names the dead parent.
func TestKeptCourierParentExited(t *testing.T) {
	for _, weak := range []bool{true, false} {
		var pid int
		id, _, err := courierSession(t, Weakening{NoParentRecheck: weak}, "", func(parent *exec.Cmd, _ func(), _ *bufio.Reader) {
			pid = parent.Process.Pid
			parent.Process.Kill()
			parent.Wait()
		})
		if weak {
			wantParent(t, id, err, pid)
			continue
		}
		if err == nil && id.PID == pid {
			t.Fatalf("answered as the dead parent %d: %+v", pid, id)
		}
	}
}

// waitTraced polls until pid has a tracer.
func waitTraced(t *testing.T, pid int) {
	t.Helper()
	waitStatus(t, pid, "a tracer", func(st procStatus) bool { return st.tracerPID != 0 })
}

// waitStatus polls pid's status every millisecond until ok says yes, for
// at most 10 s.
func waitStatus(t *testing.T, pid int, what string, ok func(procStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		bp := procBufs.Get().(*[]byte)
		st, err := readStatus(pid, bp)
		procBufs.Put(bp)
		if err == nil && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: no %s within 10 s (%v)", pid, what, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitParked reads the parent's stdout until it says it runs on (as the
// program it exec'd, or itself).
func waitParked(t *testing.T, out *bufio.Reader) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if line == "parked\n" {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the parent never went on: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the parent did not go on within 10 s")
	}
}
