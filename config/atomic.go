package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that a reader, or a crash at
// any moment, sees either the old file or the new one, never a torn mix:
// the bytes go to a temporary file in the same directory, which is synced,
// given mode perm and renamed over path; then the directory is synced so
// the rename itself survives a power loss (not possible on Windows, where
// that step is skipped).
//
// It does not lock: two writers that read, modify and write must also
// hold LockFile, as Update and Pending do.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", base, err)
	}
	name := tmp.Name()
	if err := fillTemp(tmp, data, perm); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write %s: %w", base, err)
	}
	if err := replaceFile(name, path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write %s: %w", base, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", base, err)
	}
	return nil
}

// fillTemp writes, syncs and closes a freshly created temporary file.
func fillTemp(f *os.File, data []byte, perm os.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
