//go:build windows

package config

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile locks the first byte of the file; every locker uses the same
// range, which is all an exclusive advisory lock needs.
func lockFile(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}

func unlockFile(f *os.File) error {
	var ol windows.Overlapped
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}
