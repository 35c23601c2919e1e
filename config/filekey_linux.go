package config

import (
	"os"
	"syscall"
)

func keyOf(fi os.FileInfo) fileKey {
	k := fileKey{size: fi.Size(), mtimeNanos: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino = uint64(st.Dev), uint64(st.Ino)
		k.ctimeNanos = syscall.TimespecToNsec(st.Ctim)
	}
	return k
}
