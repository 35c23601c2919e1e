package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// HashFile identifies the file at path the way the daemon identifies a
// running image: symlinks resolved, absolute, hashed from the opened file.
// The CLI uses it for register, approve and check.
func HashFile(path string) (Image, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Image{}, fmt.Errorf("hash file: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return Image{}, fmt.Errorf("hash file: %w", err)
	}
	f, err := os.Open(resolved)
	if err != nil {
		return Image{}, fmt.Errorf("hash file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Image{}, fmt.Errorf("hash file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Image{}, fmt.Errorf("hash file: %s is not a regular file", resolved)
	}
	h, err := hashReader(f)
	if err != nil {
		return Image{}, fmt.Errorf("hash file: %w", err)
	}
	return Image{Path: resolved, Hash: h}, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashReader returns "sha256:<hex>" of everything r yields. The wrapper
// hides os.File.WriteTo so the pooled buffer is used.
func hashReader(r io.Reader) (string, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, *bp); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
