package auth

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// HardenProcess disables core dumps and sets umask 077. macOS has no
// PR_SET_DUMPABLE; same-uid task_for_pid is already restricted there.
func HardenProcess() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("harden: RLIMIT_CORE: %w", err)
	}
	unix.Umask(0o077)
	return nil
}
