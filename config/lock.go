package config

import (
	"fmt"
	"os"
)

// LockFile takes an exclusive lock on path (created 0600 if missing),
// blocking until it is free, and returns the function that releases it.
// The lock is advisory and held on the open file, not the process: two
// goroutines of one process exclude each other like two processes do.
//
// Lock a companion file (config.json.lock), never the file that is
// replaced by WriteFileAtomic: a rename swaps the inode under the lock.
// The lock file is left in place on unlock, because removing it would let
// a waiter lock an orphaned inode while a newcomer locks a fresh one.
func LockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}
