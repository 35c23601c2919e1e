//go:build linux

package auth

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// connectedPeer starts a client, accepts it and reads its first message.
func connectedPeer(t *testing.T, v *Verifier, c client) (*Peer, *exec.Cmd) {
	t.Helper()
	l, sock := listen(t, "")
	cmd := startClient(t, sock, c)
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if line, err := readLine(t, p); err != nil {
		t.Fatalf("Read: %v (%q)", err, line)
	}
	return p, cmd
}

func TestIdentifyChild(t *testing.T) {
	v := newVerifier(t, Options{})
	p, cmd := connectedPeer(t, v, client{})
	id, err := p.Identify()
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	exe, _ := filepath.EvalSymlinks(testBinary(t))
	if id.PID != cmd.Process.Pid || id.UID != uint32(os.Geteuid()) {
		t.Errorf("pid/uid = %d/%d, want %d/%d", id.PID, id.UID, cmd.Process.Pid, os.Geteuid())
	}
	if id.Exe.Path != exe || id.Exe.Hash != fileHash(t, exe) {
		t.Errorf("exe = %+v, want %s %s", id.Exe, exe, fileHash(t, exe))
	}
	if id.Script != nil || id.TracerPID != 0 || id.ReducedAssurance || id.Courier != nil {
		t.Errorf("unexpected identity fields: %+v", id)
	}
	if len(id.CommandLine) == 0 || id.CommandLine[0] != testBinary(t) {
		t.Errorf("command line = %q", id.CommandLine)
	}
}

func TestHashCacheHit(t *testing.T) {
	v := newVerifier(t, Options{})
	for i := 0; i < 3; i++ {
		p, _ := connectedPeer(t, v, client{})
		if _, err := p.Identify(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Identify(); err != nil {
			t.Fatal(err)
		}
	}
	if got := HashCount(v); got != 1 {
		t.Errorf("hashed %d times, want 1 (cache hits after the first)", got)
	}
}

func TestHashCacheBounded(t *testing.T) {
	c := newHashCache(2)
	for i := uint64(0); i < 5; i++ {
		c.put(fileKey{ino: i}, "h")
	}
	if len(c.m) != 2 {
		t.Errorf("cache holds %d entries, want 2", len(c.m))
	}
	if _, ok := c.get(fileKey{ino: 4}); !ok {
		t.Error("newest entry evicted")
	}
}

// copyBinary copies the test binary into dir (mode 0755), optionally with
// extra bytes appended (an ELF file still runs; its hash differs).
func copyBinary(t *testing.T, dir, name, extra string) string {
	t.Helper()
	b, err := os.ReadFile(testBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, append(b, extra...), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDeletedImage(t *testing.T) {
	for _, weak := range []bool{true, false} {
		v := newVerifier(t, WithWeakening(Options{}, Weakening{NoImageChecks: weak}))
		bin := copyBinary(t, t.TempDir(), "client", "")
		p, _ := connectedPeer(t, v, client{bin: bin})
		if err := os.Remove(bin); err != nil {
			t.Fatal(err)
		}
		id, err := p.Identify()
		if weak {
			if err != nil {
				t.Fatalf("canary: weakened verifier refused a deleted image: %v", err)
			}
			if id.Exe.Path != bin {
				t.Errorf("canary path = %q, want %q", id.Exe.Path, bin)
			}
			continue
		}
		wantReason(t, err, ReasonImageDeleted)
	}
}

func TestPeerExited(t *testing.T) {
	v := newVerifier(t, Options{})
	p, cmd := connectedPeer(t, v, client{})
	cmd.Process.Kill()
	cmd.Wait() // reaped: its pid is free for reuse
	_, err := p.Identify()
	wantReason(t, err, ReasonPeerExited)
}

func TestReducedAssurance(t *testing.T) {
	v := newVerifier(t, WithWeakening(Options{}, Weakening{ForcePidfdOpen: true}))
	p, _ := connectedPeer(t, v, client{})
	id, err := p.Identify()
	if err != nil {
		t.Fatal(err)
	}
	if !id.ReducedAssurance {
		t.Error("pidfd_open fallback not marked ReducedAssurance")
	}
}

// TestSenderCheck: a process that inherited the connection (and did not
// connect) writes on it.
func TestSenderCheck(t *testing.T) {
	for _, weak := range []bool{true, false} {
		v := newVerifier(t, WithWeakening(Options{}, Weakening{NoSenderCheck: weak}))
		p, _ := connectedPeer(t, v, client{env: []string{"AUTH_TEST_CHILD=1"}})
		line, err := readLine(t, p)
		if weak {
			if err != nil || line != "evil" {
				t.Fatalf("canary: weakened Read = %q, %v; want the child's bytes", line, err)
			}
			continue
		}
		wantReason(t, err, ReasonSenderNotConnector)
		if _, err2 := p.Read(make([]byte, 10)); err2 != err {
			t.Errorf("refusal not sticky: %v", err2)
		}
	}
}

// TestSenderCheckSameUser runs daemon and attacker as one unprivileged uid
// (65534), as the attack suite does: root would bypass same-uid limits.
func TestSenderCheckSameUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run both sides as uid 65534")
	}
	dir := worldDir(t)
	bin := copyBinary(t, dir, "helper", "")
	for _, weak := range []bool{true, false} {
		sock := filepath.Join(dir, "s"+map[bool]string{true: "w", false: "r"}[weak]+".sock")
		wj, _ := json.Marshal(Weakening{NoSenderCheck: weak})
		d := exec.Command(bin)
		d.Env = append(os.Environ(), "AUTH_TEST_HELPER=daemon", "AUTH_TEST_SOCK="+sock, "AUTH_TEST_WEAK="+string(wj))
		d.SysProcAttr = nobody()
		out, err := d.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		d.Stderr = os.Stderr
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		if l, _ := r.ReadString('\n'); l != "listening\n" {
			t.Fatalf("daemon: %q", l)
		}
		startClient(t, sock, client{bin: bin, attr: nobody(), env: []string{"AUTH_TEST_CHILD=1"}})
		rest, _ := readAll(r)
		d.Wait()
		if weak && !strings.Contains(rest, "line: evil") {
			t.Fatalf("canary: weakened daemon output %q, want the child's line", rest)
		}
		if !weak && (strings.Contains(rest, "evil") || !strings.Contains(rest, ReasonSenderNotConnector)) {
			t.Fatalf("daemon output %q, want %s", rest, ReasonSenderNotConnector)
		}
	}
}

func readAll(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	_, err := r.WriteTo(&sb)
	return sb.String(), err
}

func nobody() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}

// worldDir is a temp dir an unprivileged uid can use (t.TempDir is 0700).
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "auth-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestPassedFDsClosed(t *testing.T) {
	for _, keep := range []bool{true, false} {
		v := newVerifier(t, WithWeakening(Options{}, Weakening{AllowPassRights: true, KeepPassedFDs: keep}))
		l, sock := listen(t, "")
		// The weakened mode needs rights on the listener too: data sent
		// before accept() is checked against the listener's setting.
		raw, _ := l.SyscallConn()
		raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSRIGHTS, 1) })
		startClient(t, sock, client{env: []string{"AUTH_TEST_RIGHTS=20"}})
		p, err := acceptPeer(t, l, v)
		if err != nil {
			t.Fatal(err)
		}
		before := countFDs(t)
		_, err = readLine(t, p)
		wantReason(t, err, ReasonFDPassingRefused)
		after := countFDs(t)
		if keep && after < before+20 {
			t.Fatalf("canary: %d fds before, %d after; want 20 leaked", before, after)
		}
		if !keep && after != before {
			t.Errorf("%d fds before, %d after the refused read", before, after)
		}
	}
}

// TestPassRightsOff: with SO_PASSRIGHTS=0 the kernel refuses the sender.
func TestPassRightsOff(t *testing.T) {
	v := newVerifier(t, Options{})
	l, sock := listen(t, "")
	cmd := exec.Command(testBinary(t))
	cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+sock, "AUTH_TEST_RIGHTS=3")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	// The client reports what its sendmsg with descriptors returned.
	sent, _ := bufio.NewReader(out).ReadString('\n')
	before := countFDs(t)
	p.SetDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = readLine(t, p)
	if kernelHasPassRights(t) {
		// SO_PASSRIGHTS=0 on our side: the kernel refuses the sender's
		// sendmsg, so nothing arrives.
		if sent == "sendmsg: <nil>\n" || !strings.HasPrefix(sent, "sendmsg: ") {
			t.Errorf("client: %q, want its sendmsg refused", sent)
		}
		if !os.IsTimeout(err) {
			t.Errorf("read = %v, want nothing to arrive", err)
		}
	} else {
		// Without SO_PASSRIGHTS the descriptors arrive; Read closes them.
		wantReason(t, err, ReasonFDPassingRefused)
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d fds before, %d after", before, after)
	}
}

// kernelHasPassRights reports whether this kernel knows SO_PASSRIGHTS.
func kernelHasPassRights(t *testing.T) bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	_, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSRIGHTS)
	return err == nil
}

// TestPreAcceptWrite: a client that writes its request right after
// connect, before the daemon's accept(), still gets its credentials on the
// data (the listener was prepared).
func TestPreAcceptWrite(t *testing.T) {
	v := newVerifier(t, Options{})
	l, sock := listen(t, "")
	cmd := exec.Command(testBinary(t))
	cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if l, _ := bufio.NewReader(out).ReadString('\n'); l != "written\n" {
		t.Fatalf("client: %q", l)
	}
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	line, err := readLine(t, p)
	if err != nil || line != "hello" {
		t.Fatalf("Read = %q, %v; want the pre-accept message with credentials", line, err)
	}
}

func TestUIDMismatch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a client under another uid")
	}
	dir := worldDir(t)
	bin := copyBinary(t, dir, "client", "")
	for _, weak := range []bool{true, false} {
		v := newVerifier(t, WithWeakening(Options{}, Weakening{NoUIDCheck: weak}))
		sub := filepath.Join(dir, fmt.Sprint("weak-", weak))
		if err := os.Mkdir(sub, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(sub, 0o777)
		l, sock := listen(t, sub)
		os.Chmod(sock, 0o777)
		startClient(t, sock, client{bin: bin, attr: nobody()})
		p, err := acceptPeer(t, l, v)
		if weak {
			// Canary: without the check, a peer of another uid is served.
			if err != nil {
				t.Fatalf("with the uid check off: %v", err)
			}
			if _, err := readLine(t, p); err != nil {
				t.Fatalf("with the uid check off, read: %v", err)
			}
			continue
		}
		wantReason(t, err, ReasonUIDMismatch)
	}
}

func TestForeignNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a client in new namespaces")
	}
	attr := &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	probe := exec.Command("/bin/true")
	probe.SysProcAttr = attr
	if err := probe.Run(); err != nil {
		t.Skipf("user namespaces unavailable: %v", err)
	}
	for _, weak := range []bool{true, false} {
		v := newVerifier(t, WithWeakening(Options{}, Weakening{NoNamespaceCheck: weak}))
		l, sock := listen(t, "")
		startClient(t, sock, client{attr: attr})
		_, err := acceptPeer(t, l, v)
		if weak && err != nil {
			t.Fatalf("canary: weakened Accept refused: %v", err)
		}
		if !weak {
			wantReason(t, err, ReasonForeignNamespace)
		}
	}
	v := newVerifier(t, Options{AllowForeignNamespaces: true})
	l, sock := listen(t, "")
	startClient(t, sock, client{attr: attr})
	if _, err := acceptPeer(t, l, v); err != nil {
		t.Errorf("AllowForeignNamespaces: %v", err)
	}
}

func TestInjectedEnv(t *testing.T) {
	v := newVerifier(t, Options{})
	p, _ := connectedPeer(t, v, client{env: []string{
		"PYTHONPATH=/x", "LD_LIBRARY_PATH=/nonexistent", "DYLD_INSERT_LIBRARIES=/y", "HARMLESS=1",
	}})
	id, err := p.Identify()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"DYLD_INSERT_LIBRARIES", "LD_LIBRARY_PATH", "PYTHONPATH"}
	if !reflect.DeepEqual(id.InjectedEnv, want) {
		t.Errorf("InjectedEnv = %q, want %q", id.InjectedEnv, want)
	}
}

func TestCourier(t *testing.T) {
	dir := t.TempDir()
	cli := copyBinary(t, dir, "keychain-auth", "\x00courier")
	self := fileHash(t, cli)
	v := newVerifier(t, Options{SelfHash: self})
	l, sock := listen(t, "")
	parent := startClient(t, sock, client{env: []string{"AUTH_TEST_HELPER=spawn", "AUTH_TEST_SPAWN=" + cli}})
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	readLine(t, p)
	id, err := p.Identify()
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	if id.PID != parent.Process.Pid || id.Courier == nil || id.Courier.Exe.Hash != self {
		t.Fatalf("identity = %+v, want parent %d with courier", id, parent.Process.Pid)
	}
	if id.Exe.Hash == self || id.Courier.PID == id.PID {
		t.Errorf("parent and courier confused: %+v", id)
	}

	// keychain-auth started by keychain-auth: not followed.
	l2, sock2 := listen(t, "")
	startClient(t, sock2, client{bin: cli, env: []string{"AUTH_TEST_HELPER=spawn", "AUTH_TEST_SPAWN=" + cli}})
	p2, err := acceptPeer(t, l2, v)
	if err != nil {
		t.Fatal(err)
	}
	readLine(t, p2)
	_, err = p2.Identify()
	wantReason(t, err, ReasonCourierChain)
}

func TestTracerPID(t *testing.T) {
	v := newVerifier(t, Options{})
	l, sock := listen(t, "")
	done, release := make(chan error, 1), make(chan struct{})
	t.Cleanup(func() { close(release) })
	var pid int
	go func() {
		// The tracer is the thread that started the child; it must resume it.
		runtimeLockOSThread()
		cmd := exec.Command(testBinary(t))
		cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
		if err := cmd.Start(); err != nil {
			done <- err
			return
		}
		pid = cmd.Process.Pid
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			done <- err
			return
		}
		done <- syscall.PtraceCont(pid, 0)
		// Every signal the tracee receives (the Go runtime sends itself
		// SIGURG to preempt goroutines) stops it until its tracer lets it
		// go on; keep passing them through until it exits, or it hangs.
		// This locked thread must stay alive meanwhile: its exit would
		// detach the tracee.
		for {
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.Exited() || ws.Signaled() {
				<-release
				return
			}
			sig := 0
			if ws.Stopped() && ws.StopSignal() != syscall.SIGTRAP {
				sig = int(ws.StopSignal())
			}
			_ = syscall.PtraceCont(pid, sig)
		}
	}()
	if err := <-done; err != nil {
		t.Skipf("cannot run a traced child: %v", err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	readLine(t, p)
	id, err := p.Identify()
	if err != nil {
		t.Fatal(err)
	}
	// TracerPid names the tracing thread, one of this process's tasks.
	if _, err := os.Stat("/proc/self/task/" + itoa(id.TracerPID)); id.TracerPID == 0 || err != nil {
		t.Errorf("TracerPID = %d, want a thread of %d", id.TracerPID, os.Getpid())
	}
}

func TestHardenProcessChild(t *testing.T) {
	if os.Getenv("AUTH_TEST_HARDEN") == "1" {
		if err := HardenProcess(); err != nil {
			t.Fatal(err)
		}
		d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &rl)
		old := unix.Umask(0)
		if d != 0 || rl.Cur != 0 || old != 0o077 {
			t.Fatalf("dumpable=%d core=%d umask=%o", d, rl.Cur, old)
		}
		return
	}
	// In a child, so the test process itself stays dumpable.
	cmd := exec.Command(testBinary(t), "-test.run=^TestHardenProcessChild$")
	cmd.Env = append(os.Environ(), "AUTH_TEST_HARDEN=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestMultiUserServesOtherUIDs: system mode serves peers of every uid, and
// the identity carries the peer's uid (the broker's tenant key).
func TestMultiUserServesOtherUIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a client under another uid")
	}
	dir := worldDir(t)
	bin := copyBinary(t, dir, "client", "")
	v := newVerifier(t, Options{MultiUser: true})
	l, sock := listen(t, dir)
	os.Chmod(sock, 0o777)
	startClient(t, sock, client{bin: bin, attr: nobody()})
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatalf("accept a peer of another uid in system mode: %v", err)
	}
	if _, err := readLine(t, p); err != nil {
		t.Fatal(err)
	}
	id, err := p.Identify()
	if err != nil {
		t.Fatal(err)
	}
	if id.UID != 65534 {
		t.Fatalf("identity uid %d, want the peer's 65534", id.UID)
	}
}
