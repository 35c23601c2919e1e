package config

import (
	"os"
	"syscall"
)

// keyOf uses the creation time in place of an inode: a file renamed over
// config.json by an atomic write is a new file with its own creation
// time and a fresh last-write time.
func keyOf(fi os.FileInfo) fileKey {
	k := fileKey{size: fi.Size(), mtimeNanos: fi.ModTime().UnixNano()}
	if d, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok {
		k.ctimeNanos = d.CreationTime.Nanoseconds()
	}
	return k
}
