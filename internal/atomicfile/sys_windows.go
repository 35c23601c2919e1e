//go:build windows

package atomicfile

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// SyncDir is a no-op: Windows cannot flush a directory handle, and NTFS
// journals the metadata of the rename (MoveFileEx) itself.
func SyncDir(string) error { return nil }

// replace renames src over dst, retrying for about a second while a reader
// holds dst open: a file opened without share-delete (as os.Open does)
// cannot be replaced until it is closed.
func replace(src, dst string) error {
	var err error
	for range 50 {
		if err = os.Rename(src, dst); err == nil || !transient(err) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// openRead opens path for reading, retrying for about a second while
// replace holds it (see replace).
func openRead(path string) (*os.File, error) {
	var err error
	for range 50 {
		var f *os.File
		if f, err = os.Open(path); err == nil || !transient(err) {
			return f, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// transient reports access-denied (5) and sharing-violation (32) errors.
func transient(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && (errno == 5 || errno == 32)
}

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

// tryLockExclusive reports false when another holder has the lock.
func tryLockExclusive(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}
