//go:build linux

package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// installEnv is one system-mode install under a temporary prefix, with a
// binary built for that prefix and a service user of its own.
type installEnv struct {
	t            *testing.T
	base, prefix string
	bin          string // the binary, in a root-owned 0755 directory
	user         string
}

// TestInstallSystem installs system mode under a temporary prefix as root
// and checks every owner and mode, the unit, a second run, the refusals
// (not root, a binary others can replace, a symlink in the layout) and both
// uninstalls.
func TestInstallSystem(t *testing.T) {
	ie := newInstallEnv(t)
	ie.mustRun(2, "install") // --system is required

	out := ie.mustRun(0, "install", "--system")
	if !strings.Contains(out, "created service user "+ie.user) {
		t.Errorf("first install: %q, want it to say it created the service user", out)
	}
	ie.checkLayout()
	ie.checkServiceUser()
	ie.verifyUnit()

	// Drift: a loosened policy directory and a data directory handed to
	// root are put back, and the second run says so.
	ie.chmod(ie.path("/etc/keychain-auth/users"), 0o755)
	if err := os.Chown(ie.path("/var/lib/keychain-auth"), 0, 0); err != nil {
		t.Fatal(err)
	}
	out = ie.mustRun(0, "install", "--system")
	for _, want := range []string{"fixed (was 0:0, 0755) " + ie.path("/etc/keychain-auth/users"),
		"fixed (was 0:0, 0700) " + ie.path("/var/lib/keychain-auth") + " ",
		"service user " + ie.user + " exists", "is up to date"} {
		if !strings.Contains(out, want) {
			t.Errorf("second install: %q, want %q", out, want)
		}
	}
	ie.checkLayout()
	out = ie.mustRun(0, "install", "--system")
	if strings.Contains(out, "fixed") || strings.Contains(out, "created") || strings.Contains(out, "wrote") {
		t.Errorf("third install changed something: %q", out)
	}

	t.Run("NotRoot", ie.testNotRoot)
	t.Run("BinaryOthersCanReplace", ie.testUntrustedBinary)
	t.Run("SymlinkInLayout", ie.testSymlink)

	// uninstall keeps policy, secrets and the user.
	policy := ie.path("/etc/keychain-auth/users/1000.json")
	if err := os.WriteFile(policy, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = ie.mustRun(0, "uninstall", "--system")
	if !strings.Contains(out, "kept ") {
		t.Errorf("uninstall: %q, want it to say what it kept", out)
	}
	ie.mustBeGone(ie.unitPath())
	for _, p := range []string{policy, ie.path("/var/lib/keychain-auth/users")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("uninstall without --purge removed %s: %v", p, err)
		}
	}
	if _, err := user.Lookup(ie.user); err != nil {
		t.Errorf("uninstall without --purge removed the service user: %v", err)
	}

	// --purge refuses while something answers on the socket.
	ln, err := net.Listen("unix", ie.path("/run/keychain-auth/agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	out = ie.mustRun(1, "uninstall", "--system", "--purge")
	ln.Close()
	if !strings.Contains(out, "a daemon answers on") {
		t.Errorf("purge with a live socket: %q, want a refusal", out)
	}
	if _, err := os.Stat(policy); err != nil {
		t.Errorf("refused purge removed the policy: %v", err)
	}

	ie.mustRun(0, "uninstall", "--system", "--purge")
	for _, p := range []string{"/etc/keychain-auth", "/var/lib/keychain-auth", "/run/keychain-auth"} {
		ie.mustBeGone(ie.path(p))
	}
	if _, err := user.Lookup(ie.user); err == nil {
		t.Errorf("service user %s still exists after --purge", ie.user)
	}
	if _, err := user.LookupGroup(ie.user); err == nil {
		t.Errorf("group %s still exists after --purge", ie.user)
	}
}

func newInstallEnv(t *testing.T) *installEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("installing system mode needs root (creates a service user); run the integration tests as root")
	}
	for _, tool := range []string{"useradd", "userdel", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err != nil {
				t.Skipf("%s not found: install the passwd package", tool)
			}
		}
	}
	// Not under /tmp: install refuses a binary below a directory others
	// can write, and a sticky world-writable /tmp is one.
	base, err := os.MkdirTemp("/var/lib", "kca-install-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	ie := &installEnv{t: t, base: base, prefix: filepath.Join(base, "root"),
		bin: filepath.Join(base, "bin", "keychain-auth"), user: "kca-t" + hex.EncodeToString(rnd[:])}
	for _, d := range []string{base, ie.prefix, filepath.Dir(ie.bin)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		ie.chmod(d, 0o755)
	}
	t.Cleanup(ie.removeUser)
	if err := buildForPrefix(ie.bin, ie.prefix, ie.user); err != nil {
		t.Fatal(err)
	}
	return ie
}

// buildForPrefix builds the binary as a release would, with the system
// layout moved under prefix and its own service user name.
func buildForPrefix(out, prefix, user string) error {
	const cfg = "github.com/keychain-auth/keychain-auth/config."
	ldflags := fmt.Sprintf("-s -w -X %ssystemPrefix=%s -X %ssystemUser=%s", cfg, prefix, cfg, user)
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-ldflags="+ldflags, "-o", out, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build for prefix: %v: %s", err, b)
	}
	return os.Chmod(out, 0o755)
}

// removeUser runs even when the test failed half-way.
func (ie *installEnv) removeUser() {
	if _, err := user.Lookup(ie.user); err == nil {
		if b, err := exec.Command("userdel", ie.user).CombinedOutput(); err != nil {
			ie.t.Errorf("cleanup: userdel %s: %v: %s", ie.user, err, b)
		}
	}
	if _, err := user.LookupGroup(ie.user); err == nil {
		_ = exec.Command("groupdel", ie.user).Run()
	}
}

func (ie *installEnv) path(p string) string { return filepath.Join(ie.prefix, p) }

func (ie *installEnv) unitPath() string {
	return ie.path("/etc/systemd/system/keychain-auth.service")
}

func (ie *installEnv) chmod(p string, mode os.FileMode) {
	ie.t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		ie.t.Fatal(err)
	}
}

// runAs runs the binary at bin; cred nil means as root. It returns the exit
// code and stderr (install reports there; stdout must stay empty).
func (ie *installEnv) runAs(bin string, cred *syscall.Credential, args ...string) (int, string) {
	ie.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		ie.t.Fatalf("%v: %v", args, err)
	}
	if stdout.Len() > 0 {
		ie.t.Errorf("%v wrote to stdout: %q", args, stdout.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func (ie *installEnv) mustRun(code int, args ...string) string {
	ie.t.Helper()
	got, out := ie.runAs(ie.bin, nil, args...)
	if got != code {
		ie.t.Fatalf("%v: exit %d, want %d; stderr:\n%s", args, got, code, out)
	}
	return out
}

func (ie *installEnv) serviceIDs() (uint32, uint32) {
	ie.t.Helper()
	u, err := user.Lookup(ie.user)
	if err != nil {
		ie.t.Fatalf("service user: %v", err)
	}
	var uid, gid uint32
	fmt.Sscan(u.Uid, &uid)
	fmt.Sscan(u.Gid, &gid)
	return uid, gid
}

// checkLayout checks config/system.go's layout and the unit file.
func (ie *installEnv) checkLayout() {
	ie.t.Helper()
	uid, gid := ie.serviceIDs()
	for _, c := range []struct {
		path     string
		uid, gid uint32
		mode     fs.FileMode
	}{
		{"/etc/keychain-auth", 0, 0, fs.ModeDir | 0o755},
		{"/etc/keychain-auth/users", 0, 0, fs.ModeDir | 0o700},
		{"/var/lib/keychain-auth", uid, gid, fs.ModeDir | 0o700},
		{"/var/lib/keychain-auth/users", uid, gid, fs.ModeDir | 0o700},
		{"/run/keychain-auth", uid, gid, fs.ModeDir | 0o755},
		{"/etc/systemd/system/keychain-auth.service", 0, 0, 0o644},
	} {
		fi, err := os.Lstat(ie.path(c.path))
		if err != nil {
			ie.t.Errorf("%s: %v", c.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != c.uid || st.Gid != c.gid || fi.Mode() != c.mode {
			ie.t.Errorf("%s: %d:%d %v, want %d:%d %v", c.path, st.Uid, st.Gid, fi.Mode(), c.uid, c.gid, c.mode)
		}
	}
	unit, err := os.ReadFile(ie.unitPath())
	if err != nil {
		ie.t.Fatal(err)
	}
	for _, want := range []string{"\nExecStart=" + ie.bin + " serve --system\n", "\nUser=" + ie.user + "\n", "\nGroup=" + ie.user + "\n"} {
		if !bytes.Contains(unit, []byte(want)) {
			ie.t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(ie.unitPath()))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			ie.t.Errorf("temporary file left beside the unit: %s", e.Name())
		}
	}
}

func (ie *installEnv) checkServiceUser() {
	ie.t.Helper()
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		ie.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == ie.user {
			if f[5] != "/nonexistent" || !strings.HasSuffix(f[6], "nologin") {
				ie.t.Errorf("service user: home %s, shell %s; want /nonexistent and nologin", f[5], f[6])
			}
			return
		}
	}
	ie.t.Errorf("service user %s not in /etc/passwd", ie.user)
}

// verifyUnit runs systemd-analyze verify on the installed unit.
func (ie *installEnv) verifyUnit() {
	ie.t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		ie.t.Log("systemd-analyze not found (it is in the systemd package): unit not verified")
		return
	}
	out, err := exec.Command(analyze, "verify", ie.unitPath()).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		ie.t.Errorf("systemd-analyze verify: %v: %s", err, out)
	}
}

func (ie *installEnv) mustBeGone(p string) {
	ie.t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		ie.t.Errorf("%s still there (%v)", p, err)
	}
}

// snapshot records owner, mode and content of everything under the prefix.
func (ie *installEnv) snapshot() string {
	ie.t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(ie.prefix, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %d:%d %v", p, st.Uid, st.Gid, fi.Mode())
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		ie.t.Fatal(err)
	}
	return b.String()
}

func (ie *installEnv) testNotRoot(t *testing.T) {
	before := ie.snapshot()
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	for _, args := range [][]string{{"install", "--system"}, {"uninstall", "--system", "--purge"}} {
		code, out := ie.runAs(ie.bin, nobody, args...)
		if code != 3 || !strings.Contains(out, "needs root; use sudo") {
			t.Errorf("%v as uid 65534: exit %d, %q; want 3 and 'needs root; use sudo'", args, code, out)
		}
	}
	if after := ie.snapshot(); after != before {
		t.Errorf("refused runs changed the layout:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// A root-owned binary in a directory another user owns can be replaced by
// that user; the unit must never point at it.
func (ie *installEnv) testUntrustedBinary(t *testing.T) {
	for _, c := range []struct {
		name     string
		uid      int
		mode     os.FileMode
		wantText string
	}{
		{"user-owned", 65534, 0o755, "owned by uid 65534"},
		{"group-writable", 0, 0o775, "writable by group or others"},
	} {
		dir := filepath.Join(ie.base, c.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "keychain-auth")
		data, err := os.ReadFile(ie.bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		ie.chmod(dir, c.mode)
		if err := os.Chown(dir, c.uid, c.uid); err != nil {
			t.Fatal(err)
		}
		before := ie.snapshot()
		code, out := ie.runAs(bin, nil, "install", "--system")
		if code != 1 || !strings.Contains(out, c.wantText) || !strings.Contains(out, "/usr/local/bin") {
			t.Errorf("%s: exit %d, %q; want 1, %q and a hint to use /usr/local/bin", c.name, code, out, c.wantText)
		}
		if after := ie.snapshot(); after != before {
			t.Errorf("%s: refused install changed the layout", c.name)
		}
	}
}

// A symlink where a layout directory belongs is refused, not followed.
func (ie *installEnv) testSymlink(t *testing.T) {
	users := ie.path("/var/lib/keychain-auth/users")
	elsewhere := filepath.Join(ie.base, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(users); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, users); err != nil {
		t.Fatal(err)
	}
	code, out := ie.runAs(ie.bin, nil, "install", "--system")
	if code != 1 || !strings.Contains(out, "symlink") {
		t.Errorf("install over a symlinked %s: exit %d, %q; want 1 and a refusal", users, code, out)
	}
	if fi, err := os.Stat(elsewhere); err != nil || fi.Mode().Perm() != 0o755 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("install touched the symlink's target: %v %v", fi.Mode(), err)
	}
	if err := os.Remove(users); err != nil {
		t.Fatal(err)
	}
	ie.mustRun(0, "install", "--system")
	ie.checkLayout()
}
