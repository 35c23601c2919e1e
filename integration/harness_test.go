//go:build linux

// Package integration holds black-box tests: they build the keychain-auth
// binary, start `serve` in a temporary HOME and drive it with real child
// processes (the CLI, shell scripts, a Go client, the Python and Node
// clients). Nothing here imports the project's packages.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries TestMain builds once for every test.
var bin struct {
	dir, keychainAuth, relay string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kca-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Programs are identified by path and hash; keep them where nobody
	// else can write, as a real install would be.
	_ = os.Chmod(dir, 0o755)
	bin.dir = dir
	bin.keychainAuth = filepath.Join(dir, "keychain-auth")
	bin.relay = filepath.Join(dir, "relay")
	code := 1
	if err := build(bin.keychainAuth, ".."); err != nil {
		fmt.Fprintln(os.Stderr, "build keychain-auth:", err)
	} else if err := build(bin.relay, "./testdata/relay"); err != nil {
		fmt.Fprintln(os.Stderr, "build relay:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds pkg as a release would (.goreleaser.yaml): no cgo, no
// urfave/cli doc generator, stripped.
func build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	return nil
}

// env is one isolated user: a HOME with its own config, data and socket.
type env struct {
	t      testing.TB
	home   string
	socket string
	vars   []string

	mu     sync.Mutex
	daemon *exec.Cmd
	logs   *syncBuffer
	done   chan struct{}
}

func newEnv(t testing.TB, extra ...string) *env {
	t.Helper()
	home := t.TempDir()
	run := filepath.Join(home, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, home: home, socket: filepath.Join(run, "keychain-auth", "agent.sock")}
	e.vars = append([]string{
		"HOME=" + home,
		"PATH=" + bin.dir + ":/usr/local/bin:/usr/bin:/bin",
		"XDG_RUNTIME_DIR=" + run,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"KEYCHAIN_AUTH_BACKEND=file",
		"LANG=C",
	}, extra...)
	t.Cleanup(e.stop)
	return e
}

// start runs `keychain-auth serve` and waits until it answers.
func (e *env) start(args ...string) {
	e.t.Helper()
	e.startDaemon(bin.keychainAuth, nil, args...)
}

// startDaemon runs `serve` with args from the binary exe, as the user attr
// names (nil: this process's), waits until it listens, and returns its pid;
// e.stop stops it as usual.
func (e *env) startDaemon(exe string, attr *syscall.SysProcAttr, args ...string) int {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	cmd := exec.Command(exe, append([]string{"serve"}, args...)...)
	cmd.Env, cmd.Dir, cmd.SysProcAttr = e.vars, e.home, attr
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	e.daemon, e.logs, e.done = cmd, logs, done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			e.t.Fatalf("daemon exited at start: %s", logs.String())
		default:
		}
		if listening(e.socket) {
			return cmd.Process.Pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("daemon did not answer within 10s: %s", logs.String())
	return 0
}

// listening reports whether a unix socket is listening at path, from the
// kernel's table rather than by connecting: the daemon identifies every
// process that connects and queues an unregistered one for approval, so a
// connect from this test process would put it in the pending queue.
func listening(path string) bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	// Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is
	// __SO_ACCEPTCON, set on a listening socket.
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[7] != path {
			continue
		}
		if flags, err := strconv.ParseUint(f[3], 16, 32); err == nil && flags&0x10000 != 0 {
			return true
		}
	}
	return false
}

// stop sends SIGTERM and waits for a clean exit.
func (e *env) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.daemon == nil {
		return
	}
	_ = e.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = e.daemon.Process.Kill()
		<-e.done
		e.t.Errorf("daemon did not stop on SIGTERM: %s", e.logs.String())
	}
	if code := e.daemon.ProcessState.ExitCode(); code != 0 && !e.t.Failed() {
		e.t.Errorf("daemon exit code %d after SIGTERM: %s", code, e.logs.String())
	}
	e.daemon = nil
}

func (e *env) daemonLog() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.logs == nil {
		return ""
	}
	return e.logs.String()
}

// result is what a finished child process left behind.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a program in the environment with stdin and returns its result.
func (e *env) run(stdin string, name string, args ...string) result {
	e.t.Helper()
	return e.runIn(e.home, stdin, name, args...)
}

func (e *env) runIn(dir, stdin, name string, args ...string) result {
	e.t.Helper()
	return e.runWith(dir, nil, nil, stdin, name, args...)
}

// runWith runs name in dir with the environment's variables plus extra,
// with attr (another user, a tracer) when given, and returns its result.
func (e *env) runWith(dir string, extra []string, attr *syscall.SysProcAttr, stdin, name string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append([]string{}, e.vars...), extra...)
	cmd.Dir = dir
	cmd.SysProcAttr = attr
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("run %s: %v", name, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// ka runs the keychain-auth CLI.
func (e *env) ka(stdin string, args ...string) result {
	e.t.Helper()
	return e.run(stdin, bin.keychainAuth, args...)
}

// mustKA runs the CLI and fails the test unless it exits 0.
func (e *env) mustKA(args ...string) string {
	e.t.Helper()
	r := e.ka("", args...)
	if r.code != 0 {
		e.t.Fatalf("keychain-auth %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// script writes an executable file into dir (mode 0755, dir not writable by others).
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyFile copies src to dst with mode.
func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// session is a Go client holding one connection open (the relay program).
type session struct {
	t    testing.TB
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	done chan struct{}
}

func (e *env) openSession(relayPath string) *session {
	e.t.Helper()
	cmd := exec.Command(relayPath, "-socket", e.socket)
	cmd.Env = e.vars
	in, err := cmd.StdinPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	s := &session{t: e.t, cmd: cmd, in: in, out: bufio.NewReader(out)}
	e.t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return s
}

// ask sends one request line and returns the answer line.
func (s *session) ask(line string) string {
	s.t.Helper()
	if _, err := fmt.Fprintln(s.in, line); err != nil {
		s.t.Fatalf("send: %v", err)
	}
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() { l, err := s.out.ReadString('\n'); ch <- answer{l, err} }()
	select {
	case a := <-ch:
		if a.err != nil {
			s.t.Fatalf("no answer: %v", a.err)
		}
		return strings.TrimSpace(a.line)
	case <-time.After(10 * time.Second):
		s.t.Fatal("no answer within 10s")
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe to write from a child's output copier
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
