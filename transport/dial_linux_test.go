package transport

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDialIsCloseOnExec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	l := listen(t, path)
	go func() {
		if c, err := l.Accept(); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	raw.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0) })
	if ferr != nil {
		t.Fatal(ferr)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("client socket is inheritable: F_GETFD = %#x", flags)
	}
}

// TestDialRefusesForeignDaemon plants a socket served by another uid (as a
// different local user or a container could) and checks that Dial will not
// talk to it. Canary: a plain connect to the same socket works, so the
// refusal is the uid check's doing.
func TestDialRefusesForeignDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a listener as another uid")
	}
	dir, err := os.MkdirTemp("", "kca-foreign-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	path := filepath.Join(dir, "agent.sock")
	// The helper is this test binary, copied where uid 65534 can run it.
	exe := filepath.Join(dir, "helper.test")
	copyExecutable(t, exe)
	cmd := exec.Command(exe, "-test.run=^TestForeignListenerHelper$")
	cmd.Env = append(os.Environ(), "KCA_TEST_FOREIGN_LISTEN="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(out).ReadString('\n'); ready <- l }()
	select {
	case l := <-ready:
		if l != "ready\n" {
			t.Fatalf("foreign listener did not start: %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("foreign listener did not start in time")
	}

	// Canary: without the uid check the planted daemon gets our connection.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("canary: plain dial failed: %v", err)
	}
	got, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if got != "planted\n" {
		t.Fatalf("canary: read %q from the planted socket", got)
	}

	_, err = Dial(path)
	if err == nil || !strings.Contains(err.Error(), "refusing daemon running as uid 65534") {
		t.Fatalf("Dial to a foreign daemon: got %v, want a uid refusal", err)
	}
	if errors.Is(err, ErrDaemonNotRunning) {
		t.Errorf("a foreign daemon is not 'not running': %v", err)
	}
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestForeignListenerHelper is the planted daemon of
// TestDialRefusesForeignDaemon when run with KCA_TEST_FOREIGN_LISTEN; in a
// normal run it does nothing.
func TestForeignListenerHelper(t *testing.T) {
	path := os.Getenv("KCA_TEST_FOREIGN_LISTEN")
	if path == "" {
		return
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		os.Stdout.WriteString("listen failed: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("ready\n")
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.Write([]byte("planted\n"))
		c.Close()
	}
}
