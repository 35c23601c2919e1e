package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/keychain-auth/keychain-auth/config"
)

// serviceCaps are the only capabilities the system daemon holds:
// CAP_SYS_PTRACE to open /proc/PID/exe, environ and fd links of other
// users' processes (and of clients that made themselves non-dumpable),
// CAP_DAC_READ_SEARCH to open scripts in users' private directories and
// read the root-owned policy. SECURITY.md says why not root.
var serviceCaps = []uintptr{unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH}

// superviseAsService runs as root: it makes the runtime directory for the
// service user, then runs this same binary as that user with serviceCaps
// as ambient capabilities, passes SIGINT and SIGTERM on and exits as it
// does. It touches no store and no socket itself.
func superviseAsService(ctx context.Context, layout config.SystemLayout, svc config.ServiceAccount) error {
	if err := checkServiceDir(layout.Data, svc); err != nil {
		return err
	}
	if err := ensureRunDir(layout.Run, svc); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: svc.UID, Gid: svc.GID, Groups: []uint32{}},
		AmbientCaps: serviceCaps,
		Pdeathsig:   syscall.SIGTERM,
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the daemon as %s: %w", layout.User, err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return &cliError{code: ee.ExitCode()} // the daemon has said why
	}
	return err
}

// checkServiceDir: the state directory that install made, owned by the
// service user and private to it.
func checkServiceDir(dir string, svc config.ServiceAccount) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fail(exitError, "system mode data directory %s: %v", dir, err).
			hint("run `sudo keychain-auth install --system`")
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != svc.UID || st.Mode&0o077 != 0 {
		return fail(exitError, "system mode data directory %s must be a directory owned by the service user, mode 0700 (uid %d, mode %04o)", dir, st.Uid, st.Mode&0o7777).
			hint("run `sudo keychain-auth install --system` to repair it")
	}
	return nil
}

// ensureRunDir creates the runtime directory (under /run, so gone after a
// reboot) owned by the service user, mode 0755, refusing a symlink.
func ensureRunDir(dir string, svc config.ServiceAccount) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s is not a plain directory: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, int(svc.UID), int(svc.GID)); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	return unix.Fchmod(fd, 0o755)
}

// checkServiceCaps refuses to serve without the capabilities
// identification needs: every caller of another user would be refused
// identity_unavailable, which is a setup error, not a policy.
func checkServiceCaps() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return fmt.Errorf("parse CapEff: %w", err)
		}
		for _, c := range serviceCaps {
			if eff&(1<<c) == 0 {
				return fail(exitError, "the system daemon lacks capability %d (it needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to identify other users' programs)", c).
					hint("start it from the systemd unit (AmbientCapabilities=) or as root with `sudo keychain-auth serve --system`")
			}
		}
		return nil
	}
	return errors.New("no CapEff in /proc/self/status")
}

// ownedByUs: a tenant's directory must be the service user's own (root
// may not have made it by mistake, nor anyone else).
func ownedByUs(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not a directory of the service user's (uid %d)", dir, st.Uid)
	}
	return nil
}
