//go:build !unix && !windows

package backend

// syncDir is a no-op where there is no portable way to flush a directory.
func syncDir(string) error { return nil }
