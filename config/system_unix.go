//go:build unix

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// rootOwnedDir accepts a directory (not a symlink) owned by root that no
// group or other user can write.
func rootOwnedDir(fi fs.FileInfo) error {
	if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
		return errors.New("not a directory")
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no owner information")
	}
	if st.Uid != 0 {
		return fmt.Errorf("owned by uid %d, not root", st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by group or others (mode %04o)", fi.Mode().Perm())
	}
	return nil
}
