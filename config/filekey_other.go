//go:build !(linux || darwin || windows)

package config

import "os"

// keyOf falls back to size and modification time; the racy-window rule
// in Source covers what a coarse clock would hide.
func keyOf(fi os.FileInfo) fileKey {
	return fileKey{size: fi.Size(), mtimeNanos: fi.ModTime().UnixNano()}
}
