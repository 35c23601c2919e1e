// Package atomicfile writes and locks files so that a crash or a second
// writer never leaves a torn or lost update: the vault, config.json and
// pending.json all go through it. It knows nothing about what is in the
// files and does no encryption.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix marks our temporary files so that RemoveStaleTemps can find
// the leftovers of a writer killed before its rename.
const tempPrefix = ".tmp-"

// WriteFile replaces path with data so that a reader, or a crash at any
// moment, sees either the old file or the new one, never a mix: the bytes go
// to a temporary file in the same directory, which is given mode perm,
// synced and renamed over path; then the directory is synced so that the
// rename itself survives a power loss (a no-op on Windows).
//
// renamed reports whether the new file is in place. When it is and err is
// not nil, only the directory sync failed: every reader already sees the
// new file, but it may not survive a power loss.
//
// WriteFile does not lock: writers that read, modify and write must also
// hold Lock on a companion file.
func WriteFile(path string, data []byte, perm os.FileMode) (renamed bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix+base+"-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", base, err)
	}
	tmp := f.Name()
	defer func() {
		if !renamed {
			_ = os.Remove(tmp)
		}
	}()
	if err := fill(f, data, perm); err != nil {
		return false, fmt.Errorf("write %s: %w", base, err)
	}
	if err := replace(tmp, path); err != nil {
		return false, fmt.Errorf("write %s: %w", base, err)
	}
	if err := SyncDir(dir); err != nil {
		return true, fmt.Errorf("write %s: sync directory: %w", base, err)
	}
	return true, nil
}

// fill writes, syncs and closes a freshly created temporary file.
func fill(f *os.File, data []byte, perm os.FileMode) error {
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

// RemoveStaleTemps deletes the temporary files that a killed writer of path
// left behind. Call it only while holding the lock writers take.
func RemoveStaleTemps(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix+base+"-") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Lock takes an exclusive advisory lock on path (created 0600 if missing),
// waiting while another holder has it, and returns the function that
// releases it. The lock is held on the open file, so two goroutines of one
// process exclude each other as two processes do, and it dies with its
// process, so a crashed holder never wedges anyone.
//
// Lock a companion file (config.json.lock), never a file that WriteFile
// replaces: the rename would swap the inode under the lock. The lock file
// stays on unlock; removing it would let a waiter lock an orphaned inode
// while a newcomer locks a fresh one.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lockExclusive(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}

// ErrLocked is TryLock's answer when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

// TryLock is Lock without waiting: when another holder has the lock it
// returns ErrLocked at once.
func TryLock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	held, err := tryLockExclusive(f)
	if err != nil || !held {
		_ = f.Close()
		if err == nil {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}

// Open opens path for reading. On Windows a file that WriteFile is
// replacing at that moment cannot be opened (a sharing violation, or access
// denied while the old file's deletion is pending); Open retries that for
// about a second, as the replacing rename does on its side. Elsewhere it is
// os.Open.
func Open(path string) (*os.File, error) { return openRead(path) }

// ReadFile is os.ReadFile through Open.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
