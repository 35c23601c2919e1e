//go:build unix

package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// probeTimeout bounds the dial that tells a live socket from a stale one.
const probeTimeout = 2 * time.Second

// Listen creates the daemon's socket at path (spec §2). The directory is
// created 0700 if missing and must be a real directory owned by us; a wider
// mode is tightened to 0700, but a sticky (shared, /tmp-like) directory is
// refused rather than changed. A lock file beside the socket is held for the
// listener's life. An existing socket that answers is ErrDaemonRunning; one
// that nobody answers is stale and replaced; anything else at path is left
// alone and refused. The socket is 0600.
func Listen(path string) (*Listener, error) {
	return listenAt(path, false)
}

// ListenSystem is Listen for a system-mode daemon, whose socket every local
// user may connect to: the directory is tightened to 0755 instead of 0700
// (still owned by us and writable by nobody else, so nobody can replace
// the socket) and the socket is 0666. Who may do what is then the
// verifier's and the policy's business, per uid.
func ListenSystem(path string) (*Listener, error) {
	return listenAt(path, true)
}

func listenAt(path string, shared bool) (*Listener, error) {
	if path == "" {
		return nil, errors.New("listen: empty socket path")
	}
	if err := prepareDir(filepath.Dir(path), shared); err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	lock, err := lockEndpoint(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	l, err := bind(path, shared)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	return &Listener{ul: l, path: path, lock: lock}, nil
}

// prepareDir makes sure dir is a directory we own, not a symlink, mode 0700.
// It works on an O_NOFOLLOW descriptor so the checks and the chmod apply to
// the same directory.
func prepareDir(dir string, shared bool) error {
	if fi, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	} else if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("socket directory %s is a symlink", dir)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket directory %s: not a plain directory: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	return checkDir(fd, dir, &st, shared)
}

// checkDir applies the ownership and mode rules to an opened directory.
func checkDir(fd int, dir string, st *unix.Stat_t, shared bool) error {
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("socket directory %s is owned by uid %d, not %d", dir, st.Uid, uid)
	}
	mode := uint32(st.Mode) & 0o7777
	if mode&unix.S_ISVTX != 0 {
		return fmt.Errorf("socket directory %s is a shared (sticky) directory; use a private one", dir)
	}
	want := uint32(0o700)
	if shared {
		want = 0o755
	}
	if mode == want {
		return nil
	}
	if err := unix.Fchmod(fd, want); err != nil {
		return fmt.Errorf("set socket directory to %04o: %w", want, err)
	}
	return nil
}

// lockEndpoint takes the exclusive, non-blocking lock that decides which of
// two daemons starting at once gets the endpoint.
func lockEndpoint(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock file %s is not a regular file", path)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, ErrDaemonRunning
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// bind clears a stale socket and listens; the socket is made 0600, or 0666
// when shared (in a private directory nobody can connect in between; in a
// shared one the daemon's umask 077 keeps the new socket private until the
// chmod).
func bind(path string, shared bool) (*net.UnixListener, error) {
	if err := clearStale(path); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false) // Listener.Close removes it before unlocking
	perm := os.FileMode(0o600)
	if shared {
		perm = 0o666
	}
	if err := os.Chmod(path, perm); err != nil {
		l.Close()
		os.Remove(path)
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	return l, nil
}

// clearStale removes a socket file nobody answers on. A live socket is
// ErrDaemonRunning; a file that is not a socket is never deleted.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return ErrDaemonRunning
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe existing socket: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}
