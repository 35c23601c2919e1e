//go:build linux

package auth

// The attack suite (attack_*_test.go) runs each attack of docs/security.md
// against a daemon in its own process, with daemon and attacker under one
// unprivileged uid (65534 when the tests run as root, as CI does: root
// would bypass the same-uid limits the attacks live with). Each test first
// runs the attack against a verifier with exactly the defending check
// switched off (the canary: the attack must succeed there) and then
// against the real verifier, which must refuse with the specific reason.
//
// Roles are this test binary re-executed with AUTH_ATTACK_ROLE set; init
// runs them before TestMain. Attackers Go cannot write (a fork that keeps
// running the same code) are C programs in testdata/attack, compiled with
// the system cc at test time.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	role := os.Getenv("AUTH_ATTACK_ROLE")
	if role == "" {
		return
	}
	switch role {
	case "daemon":
		attackDaemon()
	case "victim":
		attackVictim()
	case "thief":
		attackThief()
	case "holder":
		attackHolder()
	case "bindmount":
		attackBindMount()
	case "userns":
		attackUserNS()
	case "nsprobe":
	default:
		exitOn(fmt.Errorf("unknown attack role %q", role))
	}
	os.Exit(0)
}

// attackResult is what the daemon role saw, printed as one JSON line.
type attackResult struct {
	AcceptReason   string
	Line           string
	ReadReason     string
	Exe, Hash      string
	IdentifyReason string
	FDsBefore      int
	FDsAfter       int
}

// daemonConfig is passed to the daemon role in AUTH_ATTACK_DAEMON.
type daemonConfig struct {
	Weak                   Weakening
	AllowForeignNamespaces bool
	// WaitAccept, WaitRead and WaitIdentify make the daemon wait for a
	// line on stdin before accept(), before reading and before Identify:
	// the test orders the race.
	WaitAccept, WaitRead, WaitIdentify bool
	ReadTimeout                        time.Duration
}

// attackDaemon serves one connection: Accept, read one line through the
// Peer, Identify, answer "ok"; it prints "listening", "accepted", "read"
// and a "result" JSON line.
func attackDaemon() {
	var cfg daemonConfig
	exitOn(json.Unmarshal([]byte(os.Getenv("AUTH_ATTACK_DAEMON")), &cfg))
	in := bufio.NewReader(os.Stdin)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: os.Getenv("AUTH_ATTACK_SOCK"), Net: "unix"})
	exitOn(err)
	exitOn(PrepareListener(l))
	if cfg.Weak.AllowPassRights {
		// Data sent before accept() is checked against the listener.
		raw, _ := l.SyscallConn()
		raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSRIGHTS, 1) })
	}
	fmt.Println("listening")
	var res attackResult
	defer func() {
		b, _ := json.Marshal(res)
		fmt.Printf("result %s\n", b)
	}()
	if cfg.WaitAccept {
		in.ReadString('\n')
	}
	c, err := l.AcceptUnix()
	exitOn(err)
	v, err := NewVerifier(WithWeakening(Options{AllowForeignNamespaces: cfg.AllowForeignNamespaces}, cfg.Weak))
	exitOn(err)
	p, err := v.Accept(c)
	if err != nil {
		res.AcceptReason = reasonOf(err)
		return
	}
	defer p.Close()
	fmt.Println("accepted")
	if cfg.WaitRead {
		in.ReadString('\n')
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	p.SetDeadline(time.Now().Add(cfg.ReadTimeout))
	res.FDsBefore = openFDs()
	res.Line, err = readRequestLine(p)
	res.FDsAfter = openFDs()
	if err != nil {
		res.ReadReason = reasonOf(err)
		return
	}
	fmt.Println("read")
	if cfg.WaitIdentify {
		in.ReadString('\n')
	}
	id, err := p.Identify()
	if err != nil {
		res.IdentifyReason = reasonOf(err)
		return
	}
	res.Exe, res.Hash = id.Exe.Path, id.Exe.Hash
	p.Write([]byte("ok\n"))
}

// readRequestLine reads through the Peer up to a newline, as the broker's
// line reader does (every chunk passes the sender check).
func readRequestLine(r io.Reader) (string, error) {
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		sb.Write(buf[:n])
		if i := strings.IndexByte(sb.String(), '\n'); i >= 0 {
			return sb.String()[:i], nil
		}
		if err != nil {
			return sb.String(), err
		}
	}
}

func reasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	if os.IsTimeout(err) {
		return "timeout"
	}
	return "error: " + err.Error()
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// attackLab is one attack's world: a world-accessible directory holding
// copies of the binaries, the daemon's socket, and the processes started.
type attackLab struct {
	t    *testing.T
	dir  string
	bin  string // this test binary, copied into dir
	sock string
}

func newAttackLab(t *testing.T) *attackLab {
	t.Helper()
	dir := worldDir(t)
	return &attackLab{t: t, dir: dir, bin: copyBinary(t, dir, "attacker", ""), sock: filepath.Join(dir, "d.sock")}
}

// sameUser is the credential every attack process runs under: uid 65534
// when the tests run as root, else (already unprivileged) our own.
func sameUser() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		attr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	return attr
}

// attackProc is a started process with its stdin and stdout.
type attackProc struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// start runs argv (argv[0] a path) under sameUser with env added; its
// whole process group is killed at cleanup.
func (lab *attackLab) start(argv []string, env ...string) *attackProc {
	lab.t.Helper()
	return lab.startAttr(sameUser(), argv, env...)
}

// startAttr is start with the given process attributes.
func (lab *attackLab) startAttr(attr *syscall.SysProcAttr, argv []string, env ...string) *attackProc {
	t := lab.t
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "AUTH_ATTACK_SOCK="+lab.sock)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = attr
	cmd.Dir = lab.dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	// A stuck attack fails the test instead of hanging it: the watchdog
	// kills the group, and expect then sees end of file.
	watchdog := time.AfterFunc(20*time.Second, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	t.Cleanup(func() {
		watchdog.Stop()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return &attackProc{t: t, cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// role starts this test binary (or bin, a copy of it) in an attack role.
func (lab *attackLab) role(bin, role string, env ...string) *attackProc {
	lab.t.Helper()
	if bin == "" {
		bin = lab.bin
	}
	return lab.start([]string{bin}, append([]string{"AUTH_ATTACK_ROLE=" + role}, env...)...)
}

// expect reads lines until one starts with prefix and returns the rest.
func (p *attackProc) expect(prefix string) string {
	p.t.Helper()
	for {
		line, err := p.out.ReadString('\n')
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
		if err != nil {
			p.t.Fatalf("%s: no %q line before %v (last %q)", p.cmd.Path, prefix, err, line)
		}
	}
}

// step releases a daemon waiting on stdin (WaitAccept, WaitRead).
func (p *attackProc) step() {
	p.t.Helper()
	if _, err := io.WriteString(p.in, "\n"); err != nil {
		p.t.Fatal(err)
	}
}

// daemon starts the daemon role and waits until it listens.
func (lab *attackLab) daemon(cfg daemonConfig) *attackProc {
	lab.t.Helper()
	os.Remove(lab.sock)
	b, _ := json.Marshal(cfg)
	d := lab.role("", "daemon", "AUTH_ATTACK_DAEMON="+string(b))
	d.expect("listening")
	return d
}

// result reads the daemon's result line.
func (p *attackProc) result() attackResult {
	p.t.Helper()
	var res attackResult
	if err := json.Unmarshal([]byte(p.expect("result ")), &res); err != nil {
		p.t.Fatal(err)
	}
	return res
}

// approvedBinary copies /bin/sleep into the lab: the image the daemon
// would approve, which the attacks try to pass for.
func (lab *attackLab) approvedBinary() (path, hash string) {
	t := lab.t
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep binary to play the approved program: %v", err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(lab.dir, "approved")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path, fileHash(t, path)
}

// compileC compiles testdata/attack/name.c into the lab, skipping loudly
// where there is no C compiler.
func (lab *attackLab) compileC(name string) string {
	lab.t.Helper()
	return compileC(lab.t, lab.dir, name)
}

// compileC compiles testdata/attack/name.c into dir.
func compileC(t *testing.T, dir, name string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("SKIP attack needs a C compiler (fork without exec): no cc: %v", err)
	}
	out := filepath.Join(dir, name)
	src, err := filepath.Abs(filepath.Join("testdata", "attack", name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cc, "-O2", "-Wall", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", name, err, b)
	}
	return out
}

// waitExe polls until pid runs the image at path (the lab's approved
// program, a copy of sleep) with its exec finished: the kernel switches the
// exe link early in execve and fills the new address space's layout (what
// the daemon's exec check reads) only later, so the link alone would let a
// request read in between race that check. A process asleep in the
// program's nanosleep has finished its exec.
func waitExe(t *testing.T, pid int, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if l, err := os.Readlink(procPath(pid, "exe")); err == nil && l == path {
			b, _ := os.ReadFile(procPath(pid, "syscall"))
			nr, _, _ := strings.Cut(string(b), " ")
			if nr == strconv.Itoa(unix.SYS_CLOCK_NANOSLEEP) || nr == strconv.Itoa(unix.SYS_NANOSLEEP) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pid %d never slept in %s", pid, path)
}

// wantRefused asserts the daemon refused at some stage with reason.
func wantRefused(t *testing.T, res attackResult, reason string) {
	t.Helper()
	got := res.AcceptReason + res.ReadReason + res.IdentifyReason
	if got != reason {
		t.Fatalf("real verifier: got %+v, want refusal %s", res, reason)
	}
}

// wantIdentified asserts the canary: the daemon read the attacker's line
// and identified the given image.
func wantIdentified(t *testing.T, res attackResult, exe, hash string) {
	t.Helper()
	if res.AcceptReason != "" || res.ReadReason != "" || res.IdentifyReason != "" ||
		!strings.Contains(res.Line, "REQUEST") || res.Exe != exe || res.Hash != hash {
		t.Fatalf("canary: weakened verifier gave %+v; want the attacker's request identified as %s %s", res, exe, hash)
	}
}
