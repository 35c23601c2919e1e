//go:build unix

package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// insecureSkipServerCheck is empty in every real build. The system-mode
// attack tests build a second binary with -ldflags -X setting it, to show
// that an impostor endpoint receives a value when the client does not
// check whom it talks to (the canary), and nothing when it does.
var insecureSkipServerCheck = ""

// DialSystem connects to a system-mode daemon at path. Before anything is
// sent it checks that nobody but uids (root and the service user) can have
// made or replaced that endpoint: the socket is owned by one of them, its
// directory is owned by one of them and writable by nobody else, every
// directory above it is too (or is a sticky root-owned directory such as
// /tmp, where nobody can rename another's entries), none of them is a
// symlink; and the process listening on it (SO_PEERCRED) runs as one of
// them. A failed check is ErrUntrustedEndpoint; a missing socket or
// directory, or nobody listening, is ErrDaemonNotRunning.
func DialSystem(path string, uids []uint32) (net.Conn, error) {
	check := insecureSkipServerCheck == ""
	if check {
		if err := checkSystemPath(path, uids); err != nil {
			return nil, fmt.Errorf("dial %s: %w", path, err)
		}
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("dial %s: %w", path, ErrDaemonNotRunning)
		}
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	if check {
		if err := checkPeerAmong(c.(*net.UnixConn), uids); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial %s: %w", path, err)
		}
	}
	return c, nil
}

// checkSystemPath applies DialSystem's ownership rules to the path.
func checkSystemPath(path string, uids []uint32) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("%w: %s is not a clean absolute path", ErrUntrustedEndpoint, path)
	}
	for dir, strict := filepath.Dir(path), true; ; dir, strict = filepath.Dir(dir), false {
		if err := checkTrustedDir(dir, uids, strict); err != nil {
			return err
		}
		if dir == "/" {
			break
		}
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrDaemonNotRunning
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedEndpoint, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w: %s is not a socket", ErrUntrustedEndpoint, path)
	}
	if uid := ownerOf(fi); !slices.Contains(uids, uid) {
		return fmt.Errorf("%w: socket %s is owned by uid %d, not by root or the service user", ErrUntrustedEndpoint, path, uid)
	}
	return nil
}

// checkTrustedDir: a real directory owned by root or one of uids that no
// group or other user can write; above the socket's own directory
// (strict false) a sticky root-owned directory is accepted too.
func checkTrustedDir(dir string, uids []uint32, strict bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) && strict {
		return ErrDaemonNotRunning
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedEndpoint, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory (a symlink?)", ErrUntrustedEndpoint, dir)
	}
	uid := ownerOf(fi)
	if uid != 0 && !slices.Contains(uids, uid) {
		return fmt.Errorf("%w: directory %s is owned by uid %d, not by root or the service user", ErrUntrustedEndpoint, dir, uid)
	}
	perm := fi.Mode()
	if perm.Perm()&0o022 != 0 && (strict || uid != 0 || perm&fs.ModeSticky == 0) {
		return fmt.Errorf("%w: directory %s is writable by others (mode %04o)", ErrUntrustedEndpoint, dir, perm.Perm())
	}
	return nil
}

func ownerOf(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}

// checkPeerAmong asks the kernel which uid the listening process runs as.
func checkPeerAmong(c *net.UnixConn, uids []uint32) error {
	uid, err := listenerUID(c)
	if err != nil {
		return err
	}
	if !slices.Contains(uids, uid) {
		return fmt.Errorf("%w: the daemon runs as uid %d, not as root or the service user", ErrUntrustedEndpoint, uid)
	}
	return nil
}
