//go:build !linux

package main

import "io"

// System mode exists only on Linux (spec §7): its daemon identifies callers
// of every user through /proc with capabilities other systems lack.

func installSystem(installPlan, io.Writer) error {
	return fail(exitError, "system mode is Linux-only").hint("run the per-user daemon: `keychain-auth serve`")
}

func uninstallSystem(installPlan, bool, io.Writer) error {
	return fail(exitError, "system mode is Linux-only")
}
