package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// shieldProcess protects what this process is about to hold (a value, a
// passphrase) from other programs of the same user: core dumps off with a
// hard limit of 0, which an unprivileged process cannot raise again (no
// core file after a fatal signal, prlimit from outside refused); and, when
// the daemon is the privileged system daemon, non-dumpable, which turns
// away ptrace, /proc/PID/mem and pidfd_getfd from the same uid, Yama or
// not. A user-mode daemon runs as the user and could not identify a
// non-dumpable client, so then the process stays dumpable (SECURITY.md).
func shieldProcess(system bool) error {
	if insecureNoShield != "" {
		return nil
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("turn off core dumps: %w", err)
	}
	if !system {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("make the process non-dumpable: %w", err)
	}
	return nil
}

// insecureNoShield is empty in every real build; the system-mode attack
// tests set it with -ldflags -X in a second binary (the canary: there the
// attacks on a CLI that holds a value succeed).
var insecureNoShield = ""
