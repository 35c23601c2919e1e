package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix marks our temporary files so that a later open can remove the
// leftovers of a writer that was killed before its rename.
const tempPrefix = ".tmp-"

// writeFileAtomic replaces path with data so that a crash at any moment
// leaves either the old file or the new one, never a torn mix: write a
// temporary file in the same directory, fsync it, rename it over path, then
// fsync the directory so the rename itself is durable.
//
// renamed reports whether the new file is in place; when it is and err is
// not nil, only the directory fsync failed and the change may not survive a
// power loss, but every reader already sees it.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (renamed bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix+base+"-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if !renamed {
			_ = os.Remove(tmp)
		}
	}()
	if err := writeAndSync(f, data, perm); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return true, nil
}

func writeAndSync(f *os.File, data []byte, perm os.FileMode) error {
	// CreateTemp makes the file 0600 already; Chmod states the intent and
	// covers a caller that wants something else.
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

// removeStaleTemps deletes temporary files that a killed writer of path
// left behind. Call it only while holding the lock that writers take.
func removeStaleTemps(path string) {
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
