//go:build !linux && !darwin

package auth

// HardenProcess does nothing on this platform (Windows protects the
// daemon's process object with its default DACL).
func HardenProcess() error { return nil }
