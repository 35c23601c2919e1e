//go:build !windows

package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// dialTimeout bounds connecting to a daemon that accepts slowly.
const dialTimeout = 5 * time.Second

// Dial connects to the daemon at path. Go opens every socket close-on-exec
// (SOCK_CLOEXEC on Linux), so a program the client starts cannot inherit
// the connection. A missing or refusing socket is ErrDaemonNotRunning. The
// daemon must run as our own uid: a socket planted by anyone else must not
// receive our requests and secrets, so that is refused.
func Dial(path string) (net.Conn, error) {
	if !peerCredSupported {
		return nil, fmt.Errorf("dial %s: %w", path, errors.ErrUnsupported)
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("dial %s: %w", path, ErrDaemonNotRunning)
		}
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	if err := checkPeerIsUs(c.(*net.UnixConn)); err != nil {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	return c, nil
}

// checkPeerIsUs asks the kernel for the listening process's uid.
func checkPeerIsUs(c *net.UnixConn) error {
	uid, err := listenerUID(c)
	if err != nil {
		return err
	}
	if me := os.Geteuid(); int(uid) != me {
		return fmt.Errorf("refusing daemon running as uid %d, not our uid %d", uid, me)
	}
	return nil
}

// listenerUID is the uid of the process that created the peer socket (the
// listener, for a client), from SO_PEERCRED.
func listenerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	var uid uint32
	var uerr error
	if err := raw.Control(func(fd uintptr) { uid, uerr = peerUID(int(fd)) }); err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	if uerr != nil {
		return 0, fmt.Errorf("peer credentials: %w", uerr)
	}
	return uid, nil
}
