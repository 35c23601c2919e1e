//go:build linux

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// The system-mode attack suite (issue 7; SECURITY.md "System mode"). The
// daemon runs as root's child under a service user of its own; the victim
// and the attacker are one unprivileged uid (smVictim), and a second uid
// (smOther) is another tenant. Every binary is built with the system layout
// moved under a temporary root-owned prefix (config.systemPrefix) and a
// service user made for the run (config.systemUser), so that nothing of the
// machine's own system mode is touched. A second build has the client's
// server check and its shield switched off: the canary that the attacks
// below work against a client without them.

// smPython is the system's Python: the unprivileged uids cannot run a
// python3 found first on root's PATH (a pyenv shim under /root, say).
const smPython = "/usr/bin/python3"

const (
	smVictim = 65534 // nobody: the user, and the same-uid attacker
	smOther  = 65533 // another tenant
)

// smWorld is one system-mode installation for the whole suite.
type smWorld struct {
	t       *testing.T
	prefix  string // root-owned 0755; the layout lives under it
	user    string // the service user
	svcUID  int
	bin     string // keychain-auth built for prefix
	weakBin string // the same without server check and shield (canary)
	pub     string // root-owned 0755: scripts every user may run
	attack  string // shieldattack

	daemon *exec.Cmd
	logs   *syncBuffer
}

func TestSystemMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("system mode tests need root (they create a service user and drop to other uids)")
	}
	for _, tool := range []string{"useradd", "userdel", smPython} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("system mode tests need %s: %v", tool, err)
		}
	}
	w := newSMWorld(t)
	w.start()
	t.Run("TenantsAreDisjoint", w.testTenantsAreDisjoint)
	t.Run("NoSelfGrant", w.testNoSelfGrant)
	t.Run("PolicyFilesOutOfReach", w.testPolicyFilesOutOfReach)
	t.Run("StoreOutOfReach", w.testStoreOutOfReach)
	t.Run("ImpostorEndpoint", w.testImpostorEndpoint)
	t.Run("ShieldedCLI", w.testShieldedCLI)
	t.Run("ScriptOfAnotherUser", w.testScriptOfAnotherUser)
	t.Run("ServeNeedsItsCapabilities", w.testServeNeedsItsCapabilities)
	t.Run("StatusAndView", w.testStatusAndView)
	t.Run("NoSquatting", w.testNoSquatting) // stops the daemon
}

func newSMWorld(t *testing.T) *smWorld {
	base, err := os.MkdirTemp("", "kca-sm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	w := &smWorld{t: t, prefix: filepath.Join(base, "root"), user: "kca-sm" + hex.EncodeToString(rnd[:]),
		pub: filepath.Join(base, "pub")}
	for _, d := range []string{w.prefix, w.pub, filepath.Join(base, "bin")} {
		must(t, os.Mkdir(d, 0o755))
	}
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", "--user-group", w.user).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", w.user).Run() })
	w.svcUID = lookupUID(t, w.user)

	flags := fmt.Sprintf("-X github.com/keychain-auth/keychain-auth/config.systemPrefix=%s -X github.com/keychain-auth/keychain-auth/config.systemUser=%s", w.prefix, w.user)
	w.bin = filepath.Join(base, "bin", "keychain-auth")
	w.weakBin = filepath.Join(base, "bin", "keychain-auth-weak")
	w.attack = filepath.Join(base, "bin", "shieldattack")
	smBuild(t, w.bin, ".", flags)
	smBuild(t, w.weakBin, ".", flags+" -X github.com/keychain-auth/keychain-auth/transport.insecureSkipServerCheck=yes -X main.insecureNoShield=yes")
	smBuild(t, w.attack, "./integration/testdata/shieldattack", "")
	w.layoutDirs()
	return w
}

// layoutDirs makes what `install --system` makes (the install test checks
// the command itself).
func (w *smWorld) layoutDirs() {
	t := w.t
	for _, d := range []string{"etc", "etc/keychain-auth", "var", "var/lib", "run"} {
		must(t, os.Mkdir(filepath.Join(w.prefix, d), 0o755))
	}
	data := filepath.Join(w.prefix, "var/lib/keychain-auth")
	must(t, os.Mkdir(data, 0o700))
	must(t, os.Chown(data, w.svcUID, w.svcUID))
}

func smBuild(t *testing.T, out, pkg, ldflags string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-ldflags", "-s -w "+ldflags, "-o", out, pkg)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v: %s", pkg, err, b)
	}
}

func lookupUID(t *testing.T, name string) int {
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatalf("id -u %s: %v", name, err)
	}
	uid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *smWorld) path(rel string) string { return filepath.Join(w.prefix, rel) }

func (w *smWorld) socket() string { return w.path("run/keychain-auth/agent.sock") }

// start runs `serve --system` as root, which drops to the service user.
func (w *smWorld) start() {
	t := w.t
	w.logs = &syncBuffer{}
	w.daemon = exec.Command(w.bin, "serve", "--system")
	w.daemon.Stdout, w.daemon.Stderr = w.logs, w.logs
	must(t, w.daemon.Start())
	t.Cleanup(w.stop)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Lstat(w.socket()); err == nil && fi.Mode().Type() == os.ModeSocket {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("system daemon did not start: %s", w.logs.String())
}

func (w *smWorld) stop() {
	if w.daemon == nil {
		return
	}
	_ = w.daemon.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = w.daemon.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = w.daemon.Process.Kill()
		<-done
	}
	w.daemon = nil
}

// script writes a root-owned script into pub: run by any user, it runs the
// given CLI binary with the script's own arguments.
func (w *smWorld) script(name, cli string) string {
	p := filepath.Join(w.pub, name)
	must(w.t, os.WriteFile(p, []byte("#!/bin/sh\nexec 9>&-\n"+cli+" \"$@\"\n"), 0o755))
	return p
}

// asRoot runs the CLI as root for user uid (as sudo would).
func (w *smWorld) asRoot(uid int, stdin string, args ...string) result {
	return w.runAs(0, []string{"SUDO_UID=" + strconv.Itoa(uid)}, stdin, w.bin, args...)
}

// runAs runs name as uid (gid the same) with a minimal environment.
func (w *smWorld) runAs(uid int, extra []string, stdin, name string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LANG=C"}, extra...)
	cmd.Dir = "/"
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		w.t.Fatalf("run %s: %v", name, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

func wantCode(t *testing.T, what string, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
}

// The same registered program run by two users sees two stores; neither
// can read, list, overwrite or delete the other's items, nor tell that
// they exist.
func (w *smWorld) testTenantsAreDisjoint(t *testing.T) {
	tool := w.script("tool.sh", w.bin)
	for _, uid := range []int{smVictim, smOther} {
		wantCode(t, "authorize", w.asRoot(uid, "", "authorize", tool, "shared"), 0)
	}
	wantCode(t, "victim put", w.runAs(smVictim, nil, "victim-value", tool, "put", "shared", "db"), 0)
	r := w.runAs(smOther, nil, "", tool, "get", "shared", "db")
	wantCode(t, "other get", r, 4)
	r = w.runAs(smOther, nil, "", tool, "ls", "shared")
	wantCode(t, "other ls", r, 0)
	if strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("other user lists %q in the victim's namespace", r.stdout)
	}
	wantCode(t, "other put", w.runAs(smOther, nil, "other-value", tool, "put", "shared", "db"), 0)
	wantCode(t, "other delete", w.runAs(smOther, nil, "", tool, "delete", "shared", "db"), 0)
	r = w.runAs(smVictim, nil, "", tool, "get", "shared", "db")
	wantCode(t, "victim get", r, 0)
	if r.stdout != "victim-value" {
		t.Fatalf("victim reads %q after the other user's put and delete, want its own value", r.stdout)
	}
	// A third uid, with no policy at all, is queued in its own queue.
	r = w.runAs(smOther-1, nil, "", tool, "get", "shared", "db")
	wantCode(t, "unregistered uid", r, 5)
	if b, err := os.ReadFile(filepath.Join(w.path("var/lib/keychain-auth/users"), strconv.Itoa(smVictim), "pending.json")); err == nil && bytes.Contains(b, []byte(tool)) {
		t.Fatalf("another uid's attempt landed in the victim's pending queue: %s", b)
	}
}

// Every command that changes a policy, run by the user (who is also the
// attacker), changes nothing and exits 3; root with SUDO_UID (the canary)
// does change the file, so the comparison below can see a change.
func (w *smWorld) testNoSelfGrant(t *testing.T) {
	evil := w.script("evil.sh", w.bin)
	policy := w.path("etc/keychain-auth/users/" + strconv.Itoa(smVictim) + ".json")
	before, err := os.ReadFile(policy)
	must(t, err)
	hash := sha256File(t, evil)
	for _, args := range [][]string{
		{"register", evil}, {"upgrade", evil}, {"approve", hash, evil}, {"authorize", evil, "shared"},
		{"grant", evil, "--read", "shared"}, {"revoke", evil, "--all"}, {"unregister", evil},
		{"grant", "--user", "root", evil, "--read", "shared"},
	} {
		r := w.runAs(smVictim, nil, "", w.bin, args...)
		wantCode(t, strings.Join(args, " "), r, 3)
		if !strings.Contains(r.stderr, "sudo") {
			t.Errorf("%s: stderr does not say to use sudo: %s", args[0], r.stderr)
		}
		after, err := os.ReadFile(policy)
		must(t, err)
		if !bytes.Equal(before, after) {
			t.Fatalf("%s as the user changed the policy:\n%s", args[0], after)
		}
	}
	// The user's own programs get nothing from those attempts.
	r := w.runAs(smVictim, nil, "", evil, "get", "shared", "db")
	wantCode(t, "evil get", r, 5)
	// Canary: the same change made by root lands in the file.
	wantCode(t, "root register", w.asRoot(smVictim, "", "register", evil), 0)
	after, err := os.ReadFile(policy)
	must(t, err)
	if bytes.Equal(before, after) || !bytes.Contains(after, []byte(evil)) {
		t.Fatalf("canary: root's register did not change the policy file")
	}
	wantCode(t, "root unregister", w.asRoot(smVictim, "", "unregister", evil), 0)
}

// The user cannot write, replace, symlink or read the policy files, nor
// the directory that holds them.
func (w *smWorld) testPolicyFilesOutOfReach(t *testing.T) {
	users := w.path("etc/keychain-auth/users")
	policy := filepath.Join(users, strconv.Itoa(smVictim)+".json")
	for _, c := range []string{
		"echo '{}' > " + policy,
		"cat " + policy,
		"ln -s /tmp/x " + filepath.Join(users, "65532.json"),
		"mv " + users + " " + users + ".old",
		"mkdir " + w.path("etc/keychain-auth/other"),
		"rm -f " + policy,
	} {
		r := w.runAs(smVictim, nil, "", "/bin/sh", "-c", c)
		if r.code == 0 {
			t.Errorf("as the user, %q succeeded", c)
		}
	}
	if fi, err := os.Stat(policy); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("policy file after the attempts: %v %v", fi, err)
	}
}

// The vault, its key, the pending queue and the audit log are readable by
// the service user alone: the user, with the same uid as any program of
// theirs, reads none of them. The canary runs the same reads as the
// service user, which must work.
func (w *smWorld) testStoreOutOfReach(t *testing.T) {
	dir := w.path("var/lib/keychain-auth/users/" + strconv.Itoa(smVictim))
	files := []string{"vault.key", "vault.kav", "vault.journal", "audit.log"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if r := w.runAs(smVictim, nil, "", "/bin/cat", p); r.code == 0 {
			t.Errorf("the user read %s", p)
		}
		if r := w.runAs(w.svcUID, nil, "", "/bin/cat", p); r.code != 0 {
			t.Errorf("canary: the service user cannot read %s: %s", p, r.stderr)
		}
	}
	if r := w.runAs(smVictim, nil, "", "/bin/ls", w.path("var/lib/keychain-auth")); r.code == 0 {
		t.Errorf("the user listed the data directory: %s", r.stdout)
	}
}

// A socket named by KEYCHAIN_AUTH_SOCKET (planted, say, in the user's shell
// startup files by a program of theirs) gets nothing from the client; the
// canary client, without the server check, hands it the value.
func (w *smWorld) testImpostorEndpoint(t *testing.T) {
	dir, err := os.MkdirTemp("", "kca-impostor-")
	must(t, err)
	defer os.RemoveAll(dir)
	must(t, os.Chmod(dir, 0o755))
	must(t, os.Chown(dir, smVictim, smVictim))
	sock, got := filepath.Join(dir, "agent.sock"), filepath.Join(dir, "got")
	listener := exec.Command(smPython, "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
open(sys.argv[2] + ".ready", "w").close()
while True:
    c, _ = s.accept(); c.settimeout(2)
    data = b""
    try:
        while b"\n" not in data:
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
    except Exception: pass
    with open(sys.argv[2], "ab") as f: f.write(data)
    c.close()
`, sock, got)
	listener.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: smVictim, Gid: smVictim, Groups: []uint32{}}}
	must(t, listener.Start())
	defer func() { _ = listener.Process.Kill(); _ = listener.Wait() }()
	waitFile(t, got+".ready")

	marker := "impostor-marker-" + strconv.Itoa(os.Getpid())
	env := []string{"KEYCHAIN_AUTH_SOCKET=" + sock}
	tool := w.script("tool.sh", w.bin)
	r := w.runAs(smVictim, env, marker, tool, "put", "shared", "db")
	wantCode(t, "put to an impostor", r, 1)
	if !strings.Contains(r.stderr, "refusing to talk to") {
		t.Errorf("stderr does not explain the refusal: %s", r.stderr)
	}
	time.Sleep(200 * time.Millisecond)
	if b, _ := os.ReadFile(got); len(b) != 0 {
		t.Fatalf("the impostor received %q from the real client", b)
	}
	// Canary: the weakened client sends the value to the impostor.
	weak := w.script("tool-weak.sh", w.weakBin)
	w.runAs(smVictim, env, marker, weak, "put", "shared", "db")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(got)
		if bytes.Contains(b, []byte(marker)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("canary: the impostor did not get the value from a client without the server check (got %q)", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}

// The CLI holding a value (blocked writing it to a full pipe) is attacked
// by a program of the same uid: ptrace, /proc/PID/mem, pidfd_getfd of its
// stdout and raising its core limit. With the shield, each is refused;
// without it (canary), each works and the value is read from its memory.
func (w *smWorld) testShieldedCLI(t *testing.T) {
	marker := "shield-marker-" + strconv.Itoa(os.Getpid())
	tool := w.script("tool.sh", w.bin)
	wantCode(t, "authorize", w.asRoot(smVictim, "", "authorize", tool, "shared"), 0)
	wantCode(t, "put", w.runAs(smVictim, nil, marker, tool, "put", "shared", "shield"), 0)

	got := w.attackHolder(t, tool, marker)
	if got != "ptrace=EPERM mem=EACCES getfd=EPERM prlimit=EPERM" {
		t.Fatalf("attacks on the shielded CLI: %s", got)
	}
	// The weakened CLI is not the daemon's own image, so the daemon does
	// not take it for a courier: it is registered as a program itself.
	weak := w.script("tool-weak.sh", w.weakBin)
	wantCode(t, "weak register", w.asRoot(smVictim, "", "authorize", w.weakBin, "shared"), 0)
	got = w.attackHolder(t, weak, marker)
	if got != "ptrace=ok mem=found getfd=ok prlimit=ok" {
		t.Fatalf("canary: attacks on the CLI without the shield: %s", got)
	}
}

// attackHolder runs `script get shared shield` as the victim with stdout
// on a pipe that is already full, waits until the CLI blocks writing the
// value, and runs the attacker against the CLI as the same uid.
func (w *smWorld) attackHolder(t *testing.T, script, marker string) string {
	r, wr, err := os.Pipe()
	must(t, err)
	defer r.Close()
	fd := int(wr.Fd()) // once: every Fd() call puts the descriptor back in blocking mode
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	must(t, unix.SetNonblock(fd, true))
	for {
		if _, err := unix.Write(fd, make([]byte, 512)); err != nil {
			break
		}
	}
	must(t, unix.SetNonblock(fd, false))
	cmd := exec.Command(script, "get", "shared", "shield")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	cmd.Stdout = wr
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: smVictim, Gid: smVictim, Groups: []uint32{}}}
	cmd.WaitDelay = 5 * time.Second
	must(t, cmd.Start())
	wr.Close()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	cli := waitBlockedChild(t, cmd.Process.Pid, &errb)
	res := w.runAs(smVictim, nil, "", w.attack, strconv.Itoa(cli), marker)
	if res.code != 0 {
		t.Fatalf("attacker: %d %s", res.code, res.stderr)
	}
	return strings.TrimSpace(res.stdout)
}

// waitBlockedChild finds the child of pid (the CLI the script ran) once it
// sleeps in pipe_write, that is once it holds the value.
func waitBlockedChild(t *testing.T, pid int, errb *bytes.Buffer) int {
	deadline := time.Now().Add(15 * time.Second)
	seen := ""
	for time.Now().Before(deadline) {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		seen = "children " + string(kids)
		for _, f := range strings.Fields(string(kids)) {
			// Any thread of the CLI: Go writes from whichever thread
			// runs the goroutine.
			tasks, _ := filepath.Glob("/proc/" + f + "/task/*/wchan")
			for _, tw := range tasks {
				wchan, _ := os.ReadFile(tw)
				seen += fmt.Sprintf("; %s %q", tw, wchan)
				if strings.HasSuffix(string(wchan), "pipe_write") { // anon_pipe_write on newer kernels
					n, _ := strconv.Atoi(f)
					return n
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the CLI never blocked writing its value (%s); stderr: %s", seen, errb.String())
	return 0
}

// A script owned by another (non-root) user is not a script identity for
// the caller, even where the caller's policy names it: that user could
// rewrite it under the caller: the CLI it runs is refused
// script_writable_by_others (exit 3), and the hint names the owner. The
// canary: the same file owned by the caller is identified and allowed.
func (w *smWorld) testScriptOfAnotherUser(t *testing.T) {
	dir := filepath.Join(filepath.Dir(w.pub), "theirs")
	must(t, os.Mkdir(dir, 0o755))
	p := filepath.Join(dir, "shared-tool.sh")
	must(t, os.WriteFile(p, []byte("#!/bin/sh\n"+w.bin+" \"$@\"\n"), 0o755))
	for _, c := range []struct {
		owner, code int
	}{{smVictim, 0}, {smOther, 3}} {
		must(t, os.Chown(dir, c.owner, c.owner))
		must(t, os.Chown(p, c.owner, c.owner))
		wantCode(t, "authorize", w.asRoot(smVictim, "", "authorize", p, "shared"), 0)
		r := w.runAs(smVictim, nil, "", p, "ls", "shared")
		wantCode(t, fmt.Sprintf("script owned by uid %d", c.owner), r, c.code)
		if c.code != 0 && (!strings.Contains(r.stderr, "denied: script_writable_by_others") || !strings.Contains(r.stderr, fmt.Sprintf("owned by uid %d", c.owner))) {
			t.Errorf("refusal does not say why (script_writable_by_others, owned by uid %d): %s", c.owner, r.stderr)
		}
	}
}

// `serve --system` started as the service user without its capabilities
// refuses to start (it could identify nobody else), and as any other user
// it refuses and says how to start it.
func (w *smWorld) testServeNeedsItsCapabilities(t *testing.T) {
	r := w.runAs(w.svcUID, nil, "", w.bin, "serve", "--system")
	wantCode(t, "serve as the service user without capabilities", r, 1)
	if !strings.Contains(r.stderr, "CAP_SYS_PTRACE") {
		t.Errorf("stderr does not name the capability: %s", r.stderr)
	}
	r = w.runAs(smVictim, nil, "", w.bin, "serve", "--system")
	wantCode(t, "serve as a user", r, 3)
}

// status and the user's read commands work without root and show the
// user's own data only.
func (w *smWorld) testStatusAndView(t *testing.T) {
	r := w.runAs(smVictim, nil, "", "/bin/sh", "-c", w.bin+" status --json")
	wantCode(t, "status", r, 0)
	if !strings.Contains(r.stdout, `"mode":"system"`) {
		t.Errorf("status --json does not report system mode: %s", r.stdout)
	}
	private := w.script("private.sh", w.bin)
	wantCode(t, "authorize other", w.asRoot(smOther, "", "authorize", private, "other-only"), 0)
	r = w.runAs(smVictim, nil, "", "/bin/sh", "-c", w.bin+" policy")
	wantCode(t, "policy", r, 0)
	if !strings.Contains(r.stdout, "tool.sh") || strings.Contains(r.stdout, "private.sh") || strings.Contains(r.stdout, "other-only") {
		t.Fatalf("the victim's policy view shows the wrong tenant:\n%s", r.stdout)
	}
	// An unregistered script of the victim's is queued in the victim's
	// queue, which the victim lists through the daemon; the other tenant's
	// list does not show it.
	stranger := w.script("stranger.sh", w.bin)
	wantCode(t, "stranger", w.runAs(smVictim, nil, "", stranger, "get", "shared", "db"), 5)
	r = w.runAs(smVictim, nil, "", "/bin/sh", "-c", w.bin+" list-pending")
	wantCode(t, "list-pending", r, 0)
	if !strings.Contains(r.stdout, stranger) {
		t.Fatalf("the victim's list-pending does not show its queued script:\n%s", r.stdout)
	}
	r = w.runAs(smOther, nil, "", "/bin/sh", "-c", w.bin+" list-pending")
	wantCode(t, "other list-pending", r, 0)
	if strings.Contains(r.stdout, stranger) {
		t.Fatalf("another tenant sees the victim's queue:\n%s", r.stdout)
	}
	r = w.runAs(smVictim, nil, "", "/bin/sh", "-c", w.bin+" audit -n 50")
	wantCode(t, "audit", r, 0)
	if !strings.Contains(r.stdout, "shared") || strings.Contains(r.stdout, "other-only") {
		t.Fatalf("the victim's audit view:\n%s", r.stdout)
	}
}

// Nobody but root and the service user can put a socket where clients
// look: not while the daemon runs, not after it stopped, not before the
// runtime directory exists.
func (w *smWorld) testNoSquatting(t *testing.T) {
	bind := `import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])`
	try := func(what string) {
		t.Helper()
		r := w.runAs(smVictim, nil, "", smPython, "-c", bind, w.socket())
		if r.code == 0 {
			t.Fatalf("%s: the user bound the system socket path", what)
		}
		r = w.runAs(smVictim, nil, "", "/bin/sh", "-c", "mv "+filepath.Dir(w.socket())+" "+filepath.Dir(w.socket())+".x")
		if r.code == 0 {
			t.Fatalf("%s: the user moved the runtime directory", what)
		}
	}
	try("daemon running")
	w.stop()
	try("daemon stopped")
	must(t, os.RemoveAll(filepath.Dir(w.socket())))
	r := w.runAs(smVictim, nil, "", "/bin/mkdir", filepath.Dir(w.socket()))
	if r.code == 0 {
		t.Fatal("the user created the runtime directory before the daemon")
	}
	// The clients say the daemon is not running; nothing else answers.
	tool := w.script("tool.sh", w.bin)
	wantCode(t, "get without daemon", w.runAs(smVictim, nil, "", tool, "get", "shared", "db"), 6)
}
