package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// File system glue for install: every path is walked one component at a
// time with openat and O_NOFOLLOW, and owners and modes are set on the open
// descriptor, so nothing can swap a symlink in between a check and a use.

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

func closeFD(fd int) { _ = unix.Close(fd) }

func lstatOwner(path string) (uid, mode uint32, symlink bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, 0, false, fmt.Errorf("%s: %w", path, err)
	}
	return st.Uid, st.Mode & 0o7777, st.Mode&unix.S_IFMT == unix.S_IFLNK, nil
}

// openTrustedDir opens the directory path, refusing symlinks and any
// directory on the way (path included) that is not owned by root or is
// writable by group or others. With create, missing directories are made
// root 0755.
func openTrustedDir(path string, create bool) (int, error) {
	if !filepath.IsAbs(path) {
		return -1, fmt.Errorf("%s: not an absolute path", path)
	}
	fd, err := unix.Open("/", dirFlags, 0)
	if err != nil {
		return -1, fmt.Errorf("open /: %w", err)
	}
	at := "/"
	for _, name := range strings.Split(strings.Trim(filepath.Clean(path), "/"), "/") {
		if err := checkRootDir(fd, at); err != nil {
			closeFD(fd)
			return -1, err
		}
		if name == "" {
			break
		}
		next, err := openChild(fd, name, create)
		closeFD(fd)
		at = filepath.Join(at, name)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", at, err)
		}
		fd = next
	}
	if err := checkRootDir(fd, at); err != nil {
		closeFD(fd)
		return -1, err
	}
	return fd, nil
}

// openChild opens (or, with create, makes root 0755) the directory name in
// parent, never through a symlink.
func openChild(parent int, name string, create bool) (int, error) {
	fd, err := unix.Openat(parent, name, dirFlags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err := unix.Mkdirat(parent, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		if fd, err = unix.Openat(parent, name, dirFlags, 0); err == nil {
			err = setOwnerMode(fd, 0, 0, 0o755)
		}
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, errors.New("a symlink or not a directory")
	}
	if errors.Is(err, unix.ENOENT) {
		return -1, os.ErrNotExist
	}
	return fd, err
}

func checkRootDir(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Uid != 0 || st.Mode&0o022 != 0 {
		return fmt.Errorf("%s must be owned by root and writable by no one else (it is uid %d, mode %04o)", path, st.Uid, st.Mode&0o7777)
	}
	return nil
}

// ensureChildDir opens or creates the directory name in parent and gives it
// owner uid:gid and mode; change says what it did.
func ensureChildDir(parent int, name string, uid, gid, mode uint32) (fd int, change string, err error) {
	change = "ok"
	fd, err = unix.Openat(parent, name, dirFlags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(parent, name, 0o700); err == nil {
			change = "created"
			fd, err = unix.Openat(parent, name, dirFlags, 0)
		}
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, "", errors.New("is a symlink or not a directory; move it aside and run install again")
	}
	if err != nil {
		return -1, "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		closeFD(fd)
		return -1, "", err
	}
	if change == "ok" && (st.Uid != uid || st.Gid != gid || st.Mode&0o7777 != mode) {
		change = fmt.Sprintf("fixed (was %d:%d, %04o)", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if err := setOwnerMode(fd, uid, gid, mode); err != nil {
		closeFD(fd)
		return -1, "", err
	}
	return fd, change, nil
}

// setOwnerMode chowns first: chown clears set-id bits a chmod just set.
func setOwnerMode(fd int, uid, gid, mode uint32) error {
	if err := unix.Fchown(fd, int(uid), int(gid)); err != nil {
		return fmt.Errorf("fchown: %w", err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("fchmod: %w", err)
	}
	return nil
}

// unitUpToDate: name in dir is a regular root-owned 0644 file holding data.
func unitUpToDate(dir int, name string, data []byte) bool {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Gid != 0 || st.Mode&0o7777 != 0o644 {
		return false
	}
	old, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	return err == nil && bytes.Equal(old, data)
}

// replaceFileAt writes data to a fresh, unpredictably named temporary file
// in dir itself (O_EXCL, no symlink followed), gives it root and mode, syncs
// it and renames it over name.
func replaceFileAt(dir int, name string, data []byte, mode uint32) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil {
		err = setOwnerMode(fd, 0, 0, mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dir, tmp, dir, name)
	}
	if err != nil {
		_ = unix.Unlinkat(dir, tmp, 0)
		return err
	}
	return unix.Fsync(dir)
}

// unlinkAt removes name from dir; false when it was not there.
func unlinkAt(dir int, name string) (bool, error) {
	err := unix.Unlinkat(dir, name, 0)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

// removeEnableLink removes multi-user.target.wants/name when it is a
// symlink to a file called name (what `systemctl enable` makes).
func removeEnableLink(dir int, name string) bool {
	wants, err := unix.Openat(dir, "multi-user.target.wants", dirFlags, 0)
	if err != nil {
		return false
	}
	defer closeFD(wants)
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(wants, name, buf)
	if err != nil || filepath.Base(string(buf[:n])) != name {
		return false
	}
	return unix.Unlinkat(wants, name, 0) == nil
}
