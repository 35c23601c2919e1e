//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package config

import (
	"errors"
	"os"
)

// errLockUnsupported: this OS offers no file lock this package knows how
// to take, so every read-modify-write refuses rather than risk lost updates.
var errLockUnsupported = errors.New("file locking is not supported on this system")

func lockFile(*os.File) error   { return errLockUnsupported }
func unlockFile(*os.File) error { return errLockUnsupported }
