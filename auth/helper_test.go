//go:build linux

package auth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// The test binary doubles as the client (and, for same-user tests, as the
// daemon): TestMain runs a helper when AUTH_TEST_HELPER is set.
//
//	client  connect to AUTH_TEST_SOCK; wait for a line on the fifo
//	        AUTH_TEST_PIN_FIFO if set; write AUTH_TEST_MSG; then, as asked:
//	        AUTH_TEST_CHILD=1   a child that inherits the connection writes "evil\n"
//	        AUTH_TEST_RIGHTS=N  send N descriptors with the message
//	        AUTH_TEST_EXEC=json exec that argv with the connection on fd 3
//	        AUTH_TEST_EXEC_FILE=path  the same, the JSON read from a file
//	        and wait until the daemon closes.
//	        AUTH_TEST_EXEC_AFTER_REPLY=path after writing, wait for one byte
//	        from the daemon, then exec path as "inheritwait" with the
//	        connection on fd 3 (the same process, another program)
//	inherit write "evil\n" on fd 3 (a process that did not connect)
//	inheritwait  write "evil\n" on fd 3 and wait until the daemon closes
//	spawn   run AUTH_TEST_SPAWN as a client child and wait for it
//	spawnexec  start AUTH_TEST_SPAWN as a client child, then exec
//	        AUTH_TEST_PARENT_EXEC as "park" (the child's parent runs another
//	        program from then on)
//	spawnwait  start AUTH_TEST_SPAWN as a client child, wait for a line on
//	        the fifo AUTH_TEST_PARENT_FIFO, then exec AUTH_TEST_PARENT_EXEC
//	        as "park", or without one act as "park" itself
//	park    print "parked" and wait for stdin to close
//	daemon  serve one connection on AUTH_TEST_SOCK, print what Read returns
//	pinclient  three requests on one connection (pin_test.go)
func TestMain(m *testing.M) {
	switch os.Getenv("AUTH_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "client":
		helperClient()
	case "inherit":
		_, err := os.NewFile(3, "conn").Write([]byte("evil\n"))
		exitOn(err)
	case "inheritwait":
		conn := os.NewFile(3, "conn")
		_, err := conn.Write([]byte("evil\n"))
		exitOn(err)
		io.Copy(io.Discard, conn)
	case "spawn":
		cmd := exec.Command(os.Getenv("AUTH_TEST_SPAWN"))
		cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		exitOn(cmd.Run())
	case "spawnexec":
		cmd := exec.Command(os.Getenv("AUTH_TEST_SPAWN"))
		cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client")
		exitOn(cmd.Start())
		os.Setenv("AUTH_TEST_HELPER", "park")
		path := os.Getenv("AUTH_TEST_PARENT_EXEC")
		exitOn(syscall.Exec(path, []string{path}, os.Environ()))
	case "spawnwait":
		cmd := exec.Command(os.Getenv("AUTH_TEST_SPAWN"))
		cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client")
		exitOn(cmd.Start())
		f, err := os.Open(os.Getenv("AUTH_TEST_PARENT_FIFO"))
		exitOn(err)
		_, err = f.Read(make([]byte, 1))
		exitOn(err)
		f.Close()
		if path := os.Getenv("AUTH_TEST_PARENT_EXEC"); path != "" {
			os.Setenv("AUTH_TEST_HELPER", "park")
			exitOn(syscall.Exec(path, []string{path}, os.Environ()))
		}
		fmt.Println("parked")
		io.Copy(io.Discard, os.Stdin)
	case "park":
		fmt.Println("parked")
		io.Copy(io.Discard, os.Stdin)
	case "daemon":
		helperDaemon()
	case "pinclient":
		helperPinClient()
	}
	os.Exit(0)
}

// init keeps a helper's main goroutine on the process's main thread, so
// that the execs the helpers make come from the thread group leader. An
// exec from another thread makes the kernel retire the old leader, and for
// that moment /proc/PID/ns/* of the client's pid does not resolve: the
// daemon then refuses identity_unavailable, which made tests flaky under
// load.
func init() {
	if os.Getenv("AUTH_TEST_HELPER") != "" {
		runtime.LockOSThread()
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
}

func helperClient() {
	c, err := net.Dial("unix", os.Getenv("AUTH_TEST_SOCK"))
	exitOn(err)
	uc := c.(*net.UnixConn)
	waitFifo() // AUTH_TEST_PIN_FIFO: connected, not yet written
	if argv := os.Getenv("AUTH_TEST_EXEC"); argv != "" {
		execWithConn(uc, argv)
	}
	if file := os.Getenv("AUTH_TEST_EXEC_FILE"); file != "" {
		argv, err := os.ReadFile(file) // an argv too long for one variable
		exitOn(err)
		execWithConn(uc, string(argv))
	}
	msg := os.Getenv("AUTH_TEST_MSG")
	if msg == "" {
		msg = "hello\n"
	}
	if n := os.Getenv("AUTH_TEST_RIGHTS"); n != "" {
		sendRights(uc, msg, n)
	} else {
		_, err = uc.Write([]byte(msg))
		exitOn(err)
	}
	fmt.Println("written")
	if target := os.Getenv("AUTH_TEST_EXEC_AFTER_REPLY"); target != "" {
		var b [1]byte
		_, err := uc.Read(b[:])
		exitOn(err)
		os.Setenv("AUTH_TEST_HELPER", "inheritwait")
		argv, err := json.Marshal([]string{target})
		exitOn(err)
		execWithConn(uc, string(argv))
	}
	if os.Getenv("AUTH_TEST_CHILD") == "1" {
		f, err := uc.File()
		exitOn(err)
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=inherit")
		cmd.ExtraFiles = []*os.File{f}
		exitOn(cmd.Run())
		f.Close()
	}
	io.Copy(io.Discard, uc) // until the daemon closes
}

func execWithConn(uc *net.UnixConn, argvJSON string) {
	var argv []string
	exitOn(json.Unmarshal([]byte(argvJSON), &argv))
	raw, err := uc.SyscallConn()
	exitOn(err)
	var fd int
	raw.Control(func(u uintptr) { fd = int(u) })
	exitOn(unix.Dup3(fd, 3, 0))
	exitOn(unix.SetNonblock(3, false))
	path, err := exec.LookPath(argv[0])
	exitOn(err)
	exitOn(syscall.Exec(path, argv, os.Environ()))
}

func sendRights(uc *net.UnixConn, msg, n string) {
	var count int
	fmt.Sscan(n, &count)
	fds := make([]int, count)
	for i := range fds {
		f, err := os.Open("/dev/null")
		exitOn(err)
		fds[i] = int(f.Fd())
	}
	_, _, err := uc.WriteMsgUnix([]byte(msg), unix.UnixRights(fds...), nil)
	fmt.Println("sendmsg:", err)
}

func helperDaemon() {
	var w Weakening
	exitOn(json.Unmarshal([]byte(os.Getenv("AUTH_TEST_WEAK")), &w))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: os.Getenv("AUTH_TEST_SOCK"), Net: "unix"})
	exitOn(err)
	exitOn(PrepareListener(l))
	fmt.Println("listening")
	c, err := l.AcceptUnix()
	exitOn(err)
	v, err := NewVerifier(WithWeakening(Options{}, w))
	exitOn(err)
	p, err := v.Accept(c)
	exitOn(err)
	defer p.Close()
	r := bufio.NewReader(p)
	for i := 0; i < 2; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return
		}
		fmt.Printf("line: %s", line)
	}
}

// client describes one client process a test starts.
type client struct {
	env   []string
	attr  *syscall.SysProcAttr
	bin   string // default: this test binary
	dir   string
	stdin io.Reader
}

// startClient starts a helper client against sock and waits until it has
// written its message (or exec'ed), returning the running command.
func startClient(t testing.TB, sock string, c client) *exec.Cmd {
	t.Helper()
	bin := c.bin
	if bin == "" {
		bin = testBinary(t)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+sock)
	cmd.Env = append(cmd.Env, c.env...)
	cmd.SysProcAttr = c.attr
	cmd.Dir = c.dir
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start client: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func testBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// listen returns a prepared listener on a fresh socket.
func listen(t testing.TB, dir string) (*net.UnixListener, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	sock := dir + "/s.sock"
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := PrepareListener(l); err != nil {
		t.Fatalf("PrepareListener: %v", err)
	}
	return l, sock
}

// acceptPeer accepts one connection and runs v.Accept on it.
func acceptPeer(t *testing.T, l *net.UnixListener, v *Verifier) (*Peer, error) {
	t.Helper()
	// A client that failed to connect must fail the test, not hang it.
	l.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Accept(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { p.Close() })
	p.SetDeadline(time.Now().Add(10 * time.Second))
	return p, nil
}

func newVerifier(t *testing.T, opts Options) *Verifier {
	t.Helper()
	v, err := NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	if v.watcher != fresh.Default() {
		t.Cleanup(func() { v.watcher.Close() }) // a weakened one of its own
	}
	return v
}

// wantReason asserts err is an *Error with the given reason.
func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok || e.Reason != reason {
		t.Fatalf("got error %v, want reason %s", err, reason)
	}
}

func readLine(t *testing.T, r io.Reader) (string, error) {
	t.Helper()
	var b [256]byte
	n, err := r.Read(b[:])
	return strings.TrimSpace(string(b[:n])), err
}

func runtimeLockOSThread() { runtime.LockOSThread() }
