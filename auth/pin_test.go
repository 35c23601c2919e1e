//go:build linux

package auth

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests of the kept identity (pin_linux.go): a connection's identity is
// reused between requests only while the address space it was found in is
// the one running, not traced, and its image's path names the same file.

// helperPinClient is the client of these tests ("pinclient"). It connects,
// then for each of three lines "one", "two", "three" writes it and waits
// for one byte from the daemon. Set, before the third line:
//
//	AUTH_TEST_PIN_REEXEC=1  the process re-execs its own image, with
//	    address-space randomization off from its very start, its
//	    environment the same length but with XX_PRELOAD renamed LD_PRELOAD,
//	    and the connection on fd 3; the new image writes "three".
//	AUTH_TEST_PIN_FIFO=path  the client waits for a line on that fifo
//	    (the test attaches a tracer or swaps the image meanwhile).
//	AUTH_TEST_PIN_FIRST=1  with AUTH_TEST_PIN_REEXEC=1 and a fifo: right
//	    after connecting the client waits on the fifo and then re-execs as
//	    above, and the new image writes "three" as the first request.
func helperPinClient() {
	runtime.LockOSThread() // personality is per thread; exec runs on this one
	switch os.Getenv("AUTH_TEST_PIN_STAGE") {
	case "0": // turn randomization off, then start again as stage 1
		if os.Getenv("AUTH_TEST_PIN_REEXEC") == "1" {
			const addrNoRandomize = 0x0040000
			_, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0)
			if errno != 0 {
				exitOn(errno)
			}
		}
		reexec(-1, map[string]string{"AUTH_TEST_PIN_STAGE=0": "AUTH_TEST_PIN_STAGE=1"})
	case "1":
		c, err := net.Dial("unix", os.Getenv("AUTH_TEST_SOCK"))
		exitOn(err)
		uc := c.(*net.UnixConn)
		if os.Getenv("AUTH_TEST_PIN_FIRST") == "1" {
			// Admitted, nothing written yet: re-exec at once (below, after
			// the fifo), and the new image writes the first request.
			waitFifo()
			reexecStage2(uc)
		}
		for _, msg := range []string{"one\n", "two\n"} {
			_, err := uc.Write([]byte(msg))
			exitOn(err)
			var b [1]byte
			_, err = uc.Read(b[:])
			exitOn(err)
		}
		waitFifo()
		if os.Getenv("AUTH_TEST_PIN_CHILD") == "1" {
			f, err := uc.File() // a duplicate, inherited as fd 3
			exitOn(err)
			exe, err := os.Executable()
			exitOn(err)
			child := exec.Command(exe)
			child.Env = append(os.Environ(), "AUTH_TEST_HELPER=inherit")
			child.ExtraFiles = []*os.File{f}
			exitOn(child.Run())
			io.Copy(io.Discard, uc)
			return
		}
		if os.Getenv("AUTH_TEST_PIN_REEXEC") == "1" {
			reexecStage2(uc)
		}
		_, err = uc.Write([]byte("three\n"))
		exitOn(err)
		io.Copy(io.Discard, uc)
	case "2":
		conn := os.NewFile(3, "conn")
		_, err := conn.Write([]byte("three\n"))
		exitOn(err)
		io.Copy(io.Discard, conn)
	}
}

// reexecStage2 re-execs as stage 2 with the connection on fd 3 and
// XX_PRELOAD renamed LD_PRELOAD.
func reexecStage2(uc *net.UnixConn) {
	raw, err := uc.SyscallConn()
	exitOn(err)
	var fd int
	raw.Control(func(u uintptr) { fd = int(u) })
	reexec(fd, map[string]string{
		"AUTH_TEST_PIN_STAGE=1": "AUTH_TEST_PIN_STAGE=2",
		"XX_PRELOAD=":           "LD_PRELOAD=",
	})
}

// waitFifo waits for a line on the fifo AUTH_TEST_PIN_FIFO names, if any.
func waitFifo() {
	if fifo := os.Getenv("AUTH_TEST_PIN_FIFO"); fifo != "" {
		f, err := os.Open(fifo)
		exitOn(err)
		_, err = f.Read(make([]byte, 1))
		exitOn(err)
		f.Close()
	}
}

// reexec execs this process's own image again, with variables renamed in
// place (prefix → prefix, same length, same position) so that the new
// image's stack layout is the old one's; connFD, when set, becomes fd 3.
func reexec(connFD int, rename map[string]string) {
	env := os.Environ()
	for i, kv := range env {
		for from, to := range rename {
			if strings.HasPrefix(kv, from) {
				env[i] = to + kv[len(from):]
			}
		}
	}
	if connFD >= 0 {
		exitOn(unix.Dup3(connFD, 3, 0))
		exitOn(unix.SetNonblock(3, false))
	}
	exe, err := os.Readlink("/proc/self/exe")
	exitOn(err)
	exitOn(syscall.Exec(exe, []string{exe}, env))
}

// pinSession runs the daemon side of one pinclient connection: it reads
// and identifies "one" and "two" (both must identify), calls between (the
// test's action before the third line), then reads "three" and returns
// its identification.
func pinSession(t *testing.T, opts Options, env []string, bin string, between func(pid int)) (*Identity, error) {
	t.Helper()
	v := newVerifier(t, opts)
	l, sock := listen(t, "")
	env = append(env, "AUTH_TEST_HELPER=pinclient", "AUTH_TEST_PIN_STAGE=0")
	startClient(t, sock, client{env: env, bin: bin})
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDeadline(time.Now().Add(30 * time.Second))
	for _, want := range []string{"one", "two"} {
		if line, err := readLine(t, p); err != nil || line != want {
			t.Fatalf("request %q: %q, %v", want, line, err)
		}
		if _, err := p.Identify(); err != nil {
			t.Fatalf("request %q identified: %v", want, err)
		}
		if _, err := p.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if p.sys.cached == nil {
		t.Fatalf("after two requests the identity is not kept (pin fd %d)", p.sys.pin.mem)
	}
	if between != nil {
		between(p.pid)
	}
	if line, err := readLine(t, p); err != nil || line != "three" {
		t.Fatalf("third request: %q, %v", line, err)
	}
	return p.Identify()
}

// TestPinReexecSameImage: between two requests on a kept connection the
// client re-execs its own image with address-space randomization off and an
// environment of the same length that now holds LD_PRELOAD. The exec stamp
// sees the same file and the same layout. Canary: keeping the identity on
// the stamp alone answers the third request as the first program, with no
// injection variable in sight; the pin refuses it (exec_after_connect).
func TestPinReexecSameImage(t *testing.T) {
	env := []string{"AUTH_TEST_PIN_REEXEC=1", "XX_PRELOAD=/nonexistent/keychain-auth-pin-test.so"}
	id, err := pinSession(t, WithWeakening(Options{}, Weakening{NoExecPin: true}), env, "", nil)
	if err != nil {
		t.Fatalf("canary: the stamp alone should have kept the identity across the exec: %v", err)
	}
	if len(id.InjectedEnv) != 0 {
		t.Fatalf("canary: kept identity reports %v; the point is that it cannot see the new environment", id.InjectedEnv)
	}
	_, err = pinSession(t, Options{}, env, "", nil)
	wantReason(t, err, ReasonExecAfterConnect)
}

// TestPinTracerAttached: a tracer attaches to the client after its identity
// is kept. Canary: without the re-read of /proc/PID/status the kept
// identity says untraced; the real check reports the tracer (which the
// policy refuses: traced_process).
func TestPinTracerAttached(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed (.ci/run installs it)")
	}
	attach := func(t *testing.T, fifo string) func(int) {
		return func(pid int) {
			tr := exec.Command(strace, "-f", "-o", "/dev/null", "-p", itoa(pid))
			tr.Stderr = io.Discard
			if err := tr.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tr.Process.Kill(); tr.Wait() })
			waitTraced(t, pid)
			release(t, fifo)
		}
	}
	for _, weak := range []bool{true, false} {
		opts := Options{}
		if weak {
			opts = WithWeakening(opts, Weakening{NoKeptRecheck: true})
		}
		fifo := makeFifo(t)
		id, err := pinSession(t, opts, []string{"AUTH_TEST_PIN_FIFO=" + fifo}, "", attach(t, fifo))
		if err != nil {
			t.Fatalf("weak=%v: %v", weak, err)
		}
		if weak && id.TracerPID != 0 {
			t.Fatalf("canary: the kept identity without re-reads should miss the tracer, got %d", id.TracerPID)
		}
		if !weak && id.TracerPID == 0 {
			t.Fatal("the tracer attached after the identity was kept went unseen")
		}
	}
}

// TestPinImageReplaced: the client's image file is renamed over by another
// file after its identity is kept (the running image's last link is gone).
// Canary: without the path re-check the kept identity still names the
// path; the real check identifies afresh and refuses (image_deleted).
func TestPinImageReplaced(t *testing.T) {
	for _, weak := range []bool{true, false} {
		dir := t.TempDir()
		bin := copyBinary(t, dir, "client", "")
		other := copyBinary(t, dir, "other", "")
		opts := Options{}
		if weak {
			opts = WithWeakening(opts, Weakening{NoKeptRecheck: true})
		}
		fifo := makeFifo(t)
		id, err := pinSession(t, opts, []string{"AUTH_TEST_PIN_FIFO=" + fifo}, bin, func(int) {
			if err := os.Rename(other, bin); err != nil {
				t.Fatal(err)
			}
			release(t, fifo)
		})
		if weak {
			if err != nil || id.Exe.Path != bin {
				t.Fatalf("canary: the kept identity should still name %s: %+v, %v", bin, id, err)
			}
			continue
		}
		wantReason(t, err, ReasonImageDeleted)
	}
}

// TestPinImageWatched: the kept identity skips the stat of its image's path
// while the watcher (internal/fresh) has seen nothing change. Two changes
// the stat used to catch, each made after the identity is kept: a
// directory above the image renamed away and another image put at the old
// path (the process's image now lives elsewhere), and the image's mode
// changed through another hard link (a new version: ctime). Canaries: a
// watcher without the ancestors' watches, or without the file's own, keeps
// the old identity; the real one identifies afresh.
func TestPinImageWatched(t *testing.T) {
	for _, c := range []struct {
		name  string
		weak  Weakening
		setup func(t *testing.T, root, bin string) (between func(), check func(t *testing.T, id *Identity, weak bool))
	}{
		{"directory above renamed", Weakening{FreshNoAncestors: true}, func(t *testing.T, root, bin string) (func(), func(*testing.T, *Identity, bool)) {
			moved := strings.Replace(bin, "/a/", "/a.old/", 1)
			return func() {
					if err := os.Rename(root+"/a", root+"/a.old"); err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
						t.Fatal(err)
					}
					copyBinary(t, filepath.Dir(bin), filepath.Base(bin), "other")
				}, func(t *testing.T, id *Identity, weak bool) {
					if weak && id.Exe.Path != bin {
						t.Fatalf("canary: the kept identity should still name %s, got %s", bin, id.Exe.Path)
					}
					if !weak && id.Exe.Path != moved {
						t.Fatalf("identified as %s, want the image where it now is, %s", id.Exe.Path, moved)
					}
				}
		}},
		{"changed through another link", Weakening{FreshNoInode: true}, func(t *testing.T, root, bin string) (func(), func(*testing.T, *Identity, bool)) {
			link := root + "/link"
			if err := os.Link(bin, link); err != nil {
				t.Fatal(err)
			}
			var before unix.Stat_t
			if err := unix.Stat(bin, &before); err != nil {
				t.Fatal(err)
			}
			return func() {
					time.Sleep(10 * time.Millisecond) // a ctime the clock can tell apart
					if err := os.Chmod(link, 0o700); err != nil {
						t.Fatal(err)
					}
				}, func(t *testing.T, id *Identity, weak bool) {
					if weak && id.exeKey != keyOf(&before) {
						t.Fatal("canary: the kept identity should still carry the version it hashed")
					}
					if !weak && id.exeKey == keyOf(&before) {
						t.Fatal("the image's new version went unseen")
					}
				}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, weak := range []bool{true, false} {
				root := t.TempDir()
				if err := os.MkdirAll(root+"/a/b", 0o755); err != nil {
					t.Fatal(err)
				}
				bin := copyBinary(t, root+"/a/b", "client", "")
				between, check := c.setup(t, root, bin)
				opts := Options{}
				if weak {
					opts = WithWeakening(opts, c.weak)
				}
				fifo := makeFifo(t)
				id, err := pinSession(t, opts, []string{"AUTH_TEST_PIN_FIFO=" + fifo}, bin, func(int) {
					between()
					release(t, fifo)
				})
				if err != nil {
					t.Fatal(err)
				}
				check(t, id, weak)
			}
		})
	}
}

// admitSession runs the daemon side of one pinclient connection as the
// broker does: Identify at admission, before anything is read (its
// identity must be kept), then between (the test's action), then the
// first request, want, read and identified. It returns that
// identification and how many full identifications it took.
func admitSession(t *testing.T, opts Options, env []string, want string, between func(pid int)) (*Identity, int64, error) {
	t.Helper()
	v := newVerifier(t, opts)
	l, sock := listen(t, "")
	startClient(t, sock, client{env: append(env, "AUTH_TEST_HELPER=pinclient", "AUTH_TEST_PIN_STAGE=0")})
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := p.Identify(); err != nil {
		t.Fatalf("admission: %v", err)
	}
	if p.sys.cached == nil {
		t.Fatalf("the identity found at admission is not kept (pin fd %d)", p.sys.pin.mem)
	}
	if between != nil {
		between(p.pid)
	}
	if line, err := readLine(t, p); err != nil || line != want {
		t.Fatalf("first request: %q, %v", line, err)
	}
	before := v.full.Load()
	id, err := p.Identify()
	return id, v.full.Load() - before, err
}

// TestPinFromAdmission: the identity found when the connection was
// accepted answers its first request, without a second full
// identification (the CLI makes one request per connection). The
// address space is pinned before that first identification, so a re-exec
// between the admission and the first request is refused like one between
// two requests: the client re-execs its own image with address-space
// randomization off and LD_PRELOAD in a same-length environment before it
// writes anything. Canary: with the exec stamp alone (no pin; the stamp is
// taken when the request is read, after the exec) the request is answered
// as the first program, with no injection variable in sight; the pin
// refuses it (exec_after_connect).
func TestPinFromAdmission(t *testing.T) {
	id, full, err := admitSession(t, Options{}, nil, "one", nil)
	if err != nil || full != 0 || id.Exe.Hash == "" {
		t.Fatalf("first request: %+v, %v after %d full identifications; want the kept identity and none", id, err, full)
	}

	env := []string{"AUTH_TEST_PIN_REEXEC=1", "AUTH_TEST_PIN_FIRST=1", "XX_PRELOAD=/nonexistent/keychain-auth-pin-test.so"}
	for _, weak := range []bool{true, false} {
		opts := Options{}
		if weak {
			opts = WithWeakening(opts, Weakening{NoExecPin: true})
		}
		fifo := makeFifo(t)
		id, _, err := admitSession(t, opts, append(env, "AUTH_TEST_PIN_FIFO="+fifo), "three", func(int) { release(t, fifo) })
		if weak {
			if err != nil || len(id.InjectedEnv) != 0 {
				t.Fatalf("canary: the stamp alone should have kept the admission's identity across the exec: %+v, %v", id, err)
			}
			continue
		}
		wantReason(t, err, ReasonExecAfterConnect)
	}
}

func makeFifo(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/go"
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// release lets a pinclient waiting on fifo go on.
func release(t *testing.T, fifo string) {
	t.Helper()
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
}

// TestPinSenderStillChecked: on a pinned connection (SCM_PIDFD switched
// off, see stopPidfdPerChunk) a chunk written by a child that inherited the
// connection is still refused by its SCM_CREDENTIALS (sender_not_connector).
// Canary: with the sender check off the child's line is read.
func TestPinSenderStillChecked(t *testing.T) {
	for _, weak := range []bool{true, false} {
		opts := Options{}
		if weak {
			opts = WithWeakening(opts, Weakening{NoSenderCheck: true})
		}
		v := newVerifier(t, opts)
		l, sock := listen(t, "")
		startClient(t, sock, client{env: []string{"AUTH_TEST_HELPER=pinclient", "AUTH_TEST_PIN_STAGE=0", "AUTH_TEST_PIN_CHILD=1"}})
		p, err := acceptPeer(t, l, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"one", "two"} {
			if line, err := readLine(t, p); err != nil || line != want {
				t.Fatalf("request %q: %q, %v", want, line, err)
			}
			if _, err := p.Identify(); err != nil {
				t.Fatal(err)
			}
			p.Write([]byte("x"))
		}
		if !weak && (!p.sys.pin.held() || p.sys.passPidfd) {
			t.Fatalf("not pinned, or SCM_PIDFD still on (pin %d, passPidfd %v)", p.sys.pin.mem, p.sys.passPidfd)
		}
		line, err := readLine(t, p)
		if weak {
			if err != nil || line != "evil" {
				t.Fatalf("canary: without the sender check the child's line should be read: %q, %v", line, err)
			}
			continue
		}
		wantReason(t, err, ReasonSenderNotConnector)
	}
}

// TestPinZombieLeader: on a kept connection the client writes a request
// and exits while a process it made with clone(CLONE_VM) keeps its
// address space in use, so the pin still reads; the client is a zombie
// when the daemon reads the request (testdata/attack/zombie_leader.c).
// Canary: taking a status read through the pinned descriptor as proof of
// life whatever it shows answers from the kept identity; the real check
// sees the zombie, polls the pidfd and refuses (peer_exited). Reaped
// before the read, the status read itself fails: refused the same way.
func TestPinZombieLeader(t *testing.T) {
	bin := compileC(t, t.TempDir(), "zombie_leader")
	for _, c := range []struct {
		name       string
		weak, reap bool
	}{{"canary", true, false}, {"zombie", false, false}, {"reaped", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{}
			if c.weak {
				opts = WithWeakening(opts, Weakening{NoZombieCheck: true})
			}
			id, err := pinSession(t, opts, nil, bin, func(pid int) {
				waitZombie(t, pid)
				if c.reap {
					var ws unix.WaitStatus
					if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
						t.Fatal(err)
					}
				}
			})
			if c.weak {
				if err != nil || id.Exe.Path != bin {
					t.Fatalf("canary: the zombie's request should be answered from the kept identity: %+v, %v", id, err)
				}
				return
			}
			wantReason(t, err, ReasonPeerExited)
		})
	}
}

// waitZombie polls until pid is a zombie (exited, not reaped).
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	waitStatus(t, pid, "zombie state", func(st procStatus) bool { return st.state == 'Z' })
}
