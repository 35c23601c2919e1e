//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminal is a child process whose stdin, stdout and stderr are a
// pseudo-terminal this test types into, as a person at a terminal would.
// Built on /dev/ptmx with golang.org/x/sys (already a dependency) rather
// than a pty module: opening, unlocking and naming the peer is three calls.
type terminal struct {
	t      *testing.T
	master *os.File
	tty    *os.File // the child's side, kept open to read its settings
	out    *syncBuffer
	cmd    *exec.Cmd
	done   chan struct{}
}

func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty peer: %v", err)
	}
	return m, s
}

// startTerminal runs name with args in e's environment on a new terminal
// (its own session, the terminal as its controlling tty).
func (e *env) startTerminal(t *testing.T, name string, args ...string) *terminal {
	t.Helper()
	m, s := openPTY(t)
	cmd := exec.Command(name, args...)
	cmd.Env = e.vars
	cmd.Dir = e.home
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, master: m, tty: s, out: &syncBuffer{}, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			term.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(term.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-term.done
		m.Close()
		s.Close()
	})
	return term
}

// waitFor waits until the terminal has shown text.
func (tm *terminal) waitFor(text string) {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(tm.out.String(), text) {
			return
		}
		select {
		case <-tm.done:
			if strings.Contains(tm.out.String(), text) {
				return
			}
			tm.t.Fatalf("exited before showing %q; terminal: %q", text, tm.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	tm.t.Fatalf("no %q within 10s; terminal: %q", text, tm.out.String())
}

func (tm *terminal) typeText(s string) {
	tm.t.Helper()
	if _, err := tm.master.WriteString(s); err != nil {
		tm.t.Fatalf("type: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
}

// wait returns the child's exit code (-1 when a signal ended it) and all
// it showed.
func (tm *terminal) wait() (int, string) {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(15 * time.Second):
		tm.t.Fatalf("still running after 15s; terminal: %q", tm.out.String())
	}
	time.Sleep(50 * time.Millisecond) // the copier drains what is left
	return tm.cmd.ProcessState.ExitCode(), tm.out.String()
}

// echoing reports whether the terminal echoes what is typed.
func (tm *terminal) echoing() bool {
	tm.t.Helper()
	st, err := unix.IoctlGetTermios(int(tm.tty.Fd()), unix.TCGETS)
	if err != nil {
		tm.t.Fatal(err)
	}
	return st.Lflag&unix.ECHO != 0
}

// stopAndResume stops the keychain-auth process under the terminal's
// child (the script), turns echo on as a shell does when it takes the
// terminal back, resumes it, and checks that put turned echo off again.
func (tm *terminal) stopAndResume(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", tm.cmd.Process.Pid, tm.cmd.Process.Pid))
	if err != nil || len(strings.Fields(string(b))) != 1 {
		t.Fatalf("the script's child: %q %v", b, err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "T" {
			break
		}
		if i == 500 {
			t.Fatal("keychain-auth did not stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := unix.IoctlGetTermios(int(tm.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	st.Lflag |= unix.ECHO
	if err := unix.IoctlSetTermios(int(tm.tty.Fd()), unix.TCSETS, st); err != nil {
		t.Fatal(err)
	}
	if !tm.echoing() {
		t.Fatal("could not turn echo on; the check proves nothing")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for i := 0; tm.echoing(); i++ {
		if i == 200 {
			t.Fatal("put resumed with echo on: the rest of the value would be shown")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
