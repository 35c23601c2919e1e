//go:build linux

package auth

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
)

// TestLimitationCourierParentExec is a known limitation, asserted so that
// SECURITY.md changes the day it stops working: the courier rule speaks
// for the CLI's parent as it is at request time, and Linux does not say
// whether that parent exec'ed after it started the CLI. A program starts
// the CLI as its child and then execs an approved binary; the CLI's
// request is identified as the approved binary.
func TestLimitationCourierParentExec(t *testing.T) {
	dir := t.TempDir()
	cli := copyBinary(t, dir, "keychain-auth", "\x00courier")
	approved := copyBinary(t, dir, "approved", "\x00approved")
	v := newVerifier(t, Options{SelfHash: fileHash(t, cli)})
	l, sock := listen(t, "")
	cmd := exec.Command(testBinary(t))
	cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=spawnexec", "AUTH_TEST_SOCK="+sock,
		"AUTH_TEST_SPAWN="+cli, "AUTH_TEST_PARENT_EXEC="+approved)
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
	// The CLI child prints "written" on the same stdout; wait for the
	// parent's own line, printed once the approved image runs.
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("parent never parked: %v", err)
		}
		if line == "parked\n" {
			break
		}
	}
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	readLine(t, p)
	id, err := p.Identify()
	if err != nil || id.Courier == nil || id.Exe.Path != approved || id.PID != cmd.Process.Pid {
		t.Fatalf("known limitation changed: Identify = %+v, %v; want the approved binary %s as the courier's parent; update SECURITY.md and this test", id, err, approved)
	}
}
