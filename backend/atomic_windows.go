//go:build windows

package backend

// syncDir is a no-op: Windows cannot flush a directory handle opened this
// way, and NTFS journals the metadata of the rename (MoveFileEx) itself.
func syncDir(string) error { return nil }
