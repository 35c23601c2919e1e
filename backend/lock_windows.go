//go:build windows

package backend

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockExclusive locks the first byte of the file; LockFileEx without
// LOCKFILE_FAIL_IMMEDIATELY waits for the current holder.
func lockExclusive(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}

func unlockFile(f *os.File) error {
	var ol windows.Overlapped
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}
