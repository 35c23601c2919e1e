//go:build !unix

package config

// syncDir is a no-op where directories cannot be opened for syncing
// (Windows: MoveFileEx, behind os.Rename, has no directory flush).
func syncDir(string) error { return nil }
