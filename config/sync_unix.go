//go:build unix

package config

import "os"

// syncDir flushes a directory so that a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// replaceFile renames src over dst; rename(2) is atomic for readers.
func replaceFile(src, dst string) error { return os.Rename(src, dst) }
