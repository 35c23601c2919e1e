package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The real lstat behind checkTrustedPath: a system binary passes, a file
// below the world-writable /tmp (t.TempDir) does not.
func TestCheckTrustedPathOnDisk(t *testing.T) {
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	if err := checkTrustedPath(sh, lstatOwner); err != nil {
		t.Errorf("%s refused: %v", sh, err)
	}
	f := filepath.Join(t.TempDir(), "keychain-auth")
	if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkTrustedPath(f, lstatOwner); !errors.Is(err, errUntrustedPath) {
		t.Errorf("%s: %v, want errUntrustedPath", f, err)
	}
}

// openTrustedDir refuses a path through a directory others can write.
func TestOpenTrustedDirRefusesSharedDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if fd, err := openTrustedDir(filepath.Join(dir, "etc"), true); err == nil {
		closeFD(fd)
		t.Fatalf("opened a directory below %s (mode 0777)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused open still created %s/etc", dir)
	}
}
