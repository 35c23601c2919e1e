//go:build !unix

package config

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// syncDir is a no-op where directories cannot be opened for syncing
// (Windows: MoveFileEx, behind os.Rename, has no directory flush).
func syncDir(string) error { return nil }

// replaceFile renames src over dst, retrying for about a second while a
// reader holds dst open: on Windows a file opened without share-delete
// (as os.Open does) cannot be replaced until it is closed.
func replaceFile(src, dst string) error {
	var err error
	for range 50 {
		if err = os.Rename(src, dst); err == nil || !transient(err) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// transient reports access-denied (5) and sharing-violation (32) errors.
func transient(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && (errno == 5 || errno == 32)
}
