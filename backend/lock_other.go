//go:build !unix && !windows

package backend

import (
	"errors"
	"os"
)

var errNoFileLock = errors.New("file locking is not supported on this system")

func lockExclusive(*os.File) error { return errNoFileLock }

func unlockFile(*os.File) error { return nil }
