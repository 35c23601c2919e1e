//go:build !unix && !windows

package atomicfile

import (
	"errors"
	"os"
)

// errNoLock: this system offers no file lock this package knows, so every
// read-modify-write refuses rather than risk lost updates.
var errNoLock = errors.New("file locking is not supported on this system")

// SyncDir is a no-op where there is no portable way to flush a directory.
func SyncDir(string) error { return nil }

func replace(src, dst string) error { return os.Rename(src, dst) }

func lockExclusive(*os.File) error { return errNoLock }

func unlockFile(*os.File) error { return nil }

func tryLockExclusive(*os.File) (bool, error) { return false, errNoLock }

func openRead(path string) (*os.File, error) { return os.Open(path) }
