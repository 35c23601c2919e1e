package auth

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// HardenProcess makes the daemon non-dumpable (no same-uid ptrace, no
// /proc/PID/mem, no core file), disables core dumps and sets umask 077 so
// every file it creates is private.
func HardenProcess() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("harden: PR_SET_DUMPABLE: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("harden: RLIMIT_CORE: %w", err)
	}
	unix.Umask(0o077)
	return nil
}
