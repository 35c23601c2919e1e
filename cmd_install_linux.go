package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"time"

	"github.com/keychain-auth/keychain-auth/config"
)

// installSystem sets system mode up: it checks everything it can before it
// changes anything (root, the binary, the unit), then creates or fixes the
// service user, the directories and the unit. A second run fixes what
// drifted and reports what it found.
func installSystem(p installPlan, w io.Writer) error {
	if os.Geteuid() != 0 {
		return needRoot()
	}
	exe, err := installedBinary()
	if err != nil {
		return err
	}
	unit, err := renderUnit(systemUnitTemplate, exe, p.layout.User)
	if err != nil {
		return fail(exitError, "%v", err).hint("install the binary as /usr/local/bin/keychain-auth and run it from there")
	}
	acct, err := ensureServiceUser(p.layout, w)
	if err != nil {
		return err
	}
	if err := makeSystemDirs(p, acct, w); err != nil {
		return err
	}
	if err := writeUnit(p, []byte(unit), w); err != nil {
		return err
	}
	if systemdRunning() {
		if err := systemctl("daemon-reload"); err != nil {
			return err
		}
		say(w, "system mode installed; start it with: sudo systemctl enable --now keychain-auth")
		return nil
	}
	say(w, "system mode installed; systemd is not running here, so start the daemon with: sudo %s serve --system", exe)
	return nil
}

// installedBinary is the running executable, symlinks resolved, accepted
// only where nobody but root can replace it.
func installedBinary() (string, error) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", fmt.Errorf("find own binary: %w", err)
	}
	if err := checkTrustedPath(exe, lstatOwner); err != nil {
		return "", untrustedBinary(err)
	}
	if fi, err := os.Lstat(exe); err != nil || !fi.Mode().IsRegular() {
		return "", untrustedBinary(fmt.Errorf("%s is not a regular file", exe))
	}
	return exe, nil
}

// ensureServiceUser creates the service user when it is missing.
func ensureServiceUser(l config.SystemLayout, w io.Writer) (config.ServiceAccount, error) {
	acct, err := l.LookupService()
	if err == nil {
		say(w, "service user %s exists (uid %d)", l.User, acct.UID)
		return acct, nil
	}
	if !errors.Is(err, config.ErrNoServiceUser) {
		return acct, err
	}
	err = runTool("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", nologinShell(), "--user-group", l.User)
	if err != nil {
		return acct, err
	}
	if acct, err = l.LookupService(); err != nil {
		return acct, err
	}
	say(w, "created service user %s (uid %d)", l.User, acct.UID)
	return acct, nil
}

func nologinShell() string {
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if _, err := os.Stat(s); err == nil {
			return s
		}
	}
	return "/bin/false"
}

// makeSystemDirs creates or fixes the layout's directories. The top-level ones
// are reached through root-owned directories only; nested ones through the
// descriptor of their (just fixed) parent.
func makeSystemDirs(p installPlan, acct config.ServiceAccount, w io.Writer) error {
	fds := map[string]int{}
	defer func() {
		for _, fd := range fds {
			closeFD(fd)
		}
	}()
	for _, d := range p.dirs() {
		parentPath, name := filepath.Split(d.path)
		parentPath = filepath.Clean(parentPath)
		parent, ok := fds[parentPath]
		if !ok {
			var err error
			if parent, err = openTrustedDir(parentPath, true); err != nil {
				return err
			}
			fds[parentPath] = parent
		}
		uid, gid := uint32(0), uint32(0)
		if d.service {
			uid, gid = acct.UID, acct.GID
		}
		fd, change, err := ensureChildDir(parent, name, uid, gid, d.mode)
		if err != nil {
			return fmt.Errorf("%s: %w", d.path, err)
		}
		fds[d.path] = fd
		say(w, "%s %s (owner %d:%d, mode %04o)", change, d.path, uid, gid, d.mode)
	}
	return nil
}

// writeUnit installs the unit unless it is already there, as root 0644.
func writeUnit(p installPlan, unit []byte, w io.Writer) error {
	dir, err := openTrustedDir(p.unitDir, true)
	if err != nil {
		return err
	}
	defer closeFD(dir)
	if unitUpToDate(dir, unitName, unit) {
		say(w, "unit %s is up to date", p.unitPath())
		return nil
	}
	if err := replaceFileAt(dir, unitName, unit, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p.unitPath(), err)
	}
	say(w, "wrote unit %s", p.unitPath())
	return nil
}

// uninstallSystem removes the unit (and its enable link), stops nothing,
// and with purge removes every user's policy and secrets and the service
// user: refused while a daemon answers on the socket.
func uninstallSystem(p installPlan, purge bool, w io.Writer) error {
	if os.Geteuid() != 0 {
		return needRoot()
	}
	l := p.layout
	if purge && daemonAnswers(l.Socket) {
		return fail(exitError, "a daemon answers on %s; --purge would delete its files under it", l.Socket).
			hint("stop it first (`sudo systemctl disable --now keychain-auth`, or end `keychain-auth serve --system`), then run uninstall again")
	}
	if err := removeUnit(p, w); err != nil {
		return err
	}
	if systemdRunning() {
		if err := systemctl("daemon-reload"); err != nil {
			return err
		}
		if systemctl("is-active", "--quiet", unitName) == nil {
			say(w, "the daemon is still running (uninstall stops nothing): sudo systemctl stop keychain-auth")
		}
	}
	if !purge {
		say(w, "kept %s (every user's policy), %s (every user's secrets) and the service user %s; `sudo keychain-auth uninstall --system --purge` deletes them", l.Root, l.Data, l.User)
		return nil
	}
	for _, d := range []string{l.Run, l.Data, l.Root} {
		if err := removeTree(d, w); err != nil {
			return err
		}
	}
	return removeServiceUser(l.User, w)
}

// removeUnit deletes the unit and the multi-user.target.wants link that
// `systemctl enable` made for it.
func removeUnit(p installPlan, w io.Writer) error {
	dir, err := openTrustedDir(p.unitDir, false)
	if errors.Is(err, os.ErrNotExist) {
		say(w, "no unit %s", p.unitPath())
		return nil
	}
	if err != nil {
		return err
	}
	defer closeFD(dir)
	if removeEnableLink(dir, unitName) {
		say(w, "removed %s", filepath.Join(p.unitDir, "multi-user.target.wants", unitName))
	}
	removed, err := unlinkAt(dir, unitName)
	switch {
	case err != nil:
		return fmt.Errorf("remove %s: %w", p.unitPath(), err)
	case removed:
		say(w, "removed unit %s", p.unitPath())
	default:
		say(w, "no unit %s", p.unitPath())
	}
	return nil
}

// removeTree deletes a layout directory through a root-owned parent.
func removeTree(path string, w io.Writer) error {
	parent, err := openTrustedDir(filepath.Dir(path), false)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	closeFD(parent)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// RemoveAll unlinks a symlink instead of following it, and walks the
	// tree with openat and O_NOFOLLOW.
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	say(w, "removed %s", path)
	return nil
}

func removeServiceUser(name string, w io.Writer) error {
	if _, err := user.Lookup(name); err == nil {
		if err := runTool("userdel", name); err != nil {
			return err
		}
		say(w, "removed service user %s", name)
	}
	if _, err := user.LookupGroup(name); err == nil {
		if err := runTool("groupdel", name); err != nil {
			return err
		}
		say(w, "removed group %s", name)
	}
	return nil
}

func daemonAnswers(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func systemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

func systemctl(args ...string) error { return runTool("systemctl", args...) }

// runTool runs an administration tool; sudo's secure_path has sbin, plain
// root shells may not.
func runTool(name string, args ...string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				path, err = filepath.Join(dir, name), nil
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s not found: %w", name, err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %v: %s", name, args, err, out)
	}
	return nil
}
