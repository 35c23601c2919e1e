package auth

import (
	"errors"
	"fmt"
	"io"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize holds SCM_CREDENTIALS and SCM_PIDFD with room to spare; a peer
// that sends more (descriptors) gets MSG_CTRUNC, and the kernel drops the
// descriptors that did not fit.
const oobSize = 512

// peerSys is the Linux state of a Peer: its pidfd and a preallocated
// recvmsg so that Read does not allocate.
type peerSys struct {
	pidfd      int
	pidfdDev   uint64
	pidfdIno   uint64
	passPidfd  bool
	startTicks uint64    // reduced assurance only
	exec       execStamp // what the connector ran at this request's first chunk
	stamped    bool
	stampErr   error
	carried    bool  // exec holds the previous request's final, verified reading
	refused    error // sticky: a refused connection stays refused

	// The kept identity of this connection (pin_linux.go).
	pin      pin // the connector's address space, opened before its first identification
	pinTried bool
	cached   *Identity  // set while it may answer the next request
	files    []keptFile // what cached rests on
	parent   heldParent // a kept courier's parent; held while cached is set

	msg    unix.Msghdr
	iov    unix.Iovec
	oob    [oobSize]byte
	buf    []byte
	n      int
	errno  unix.Errno
	readFn func(uintptr) bool
}

func (s *peerSys) reset() { s.pidfd, s.pin, s.parent = -1, noPin(), noParent() }

func (s *peerSys) release() {
	if s.pidfd >= 0 {
		unix.Close(s.pidfd)
		s.pidfd = -1
	}
	s.pin.close()
	s.forget()
}

// PrepareListener switches on per-message credentials (SO_PASSCRED,
// SO_PASSPIDFD where the kernel has it) and off descriptor passing
// (SO_PASSRIGHTS=0 where it has that) on the listening socket, so that
// accepted sockets inherit them and data written before accept() is
// already labelled. Accept sets them again on each connection.
func PrepareListener(l *net.UnixListener) error {
	raw, err := l.SyscallConn()
	if err != nil {
		return fmt.Errorf("prepare listener: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { _, serr = setSockOpts(int(fd), false) }); err != nil {
		return fmt.Errorf("prepare listener: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("prepare listener: %w", serr)
	}
	return nil
}

// setSockOpts reports whether SO_PASSPIDFD is on. Options the kernel does
// not know (ENOPROTOOPT) are skipped; SO_PASSCRED is required.
func setSockOpts(fd int, allowRights bool) (bool, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return false, fmt.Errorf("SO_PASSCRED: %w", err)
	}
	passPidfd := true
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1); err != nil {
		if !errors.Is(err, unix.ENOPROTOOPT) {
			return false, fmt.Errorf("SO_PASSPIDFD: %w", err)
		}
		passPidfd = false
	}
	rights := 0
	if allowRights {
		rights = 1 // test-only weakening
	}
	err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSRIGHTS, rights)
	if err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		return false, fmt.Errorf("SO_PASSRIGHTS: %w", err)
	}
	return passPidfd, nil
}

// peerCred returns SO_PEERCRED and, unless the kernel lacks it, the
// SO_PEERPIDFD of the socket (-1 then).
func peerCred(fd int, tryPidfd bool) (*unix.Ucred, int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return nil, -1, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	if !tryPidfd {
		return cred, -1, nil
	}
	pidfd, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	if errors.Is(err, unix.ENOPROTOOPT) {
		return cred, -1, nil
	}
	if err != nil {
		return nil, -1, fmt.Errorf("SO_PEERPIDFD: %w", err)
	}
	unix.CloseOnExec(pidfd)
	return cred, pidfd, nil
}

// Read reads one chunk of the request. Each chunk must carry the kernel's
// credentials of its sender, and the sender must be the connecting process
// (pid and uid, and the pidfd's inode where SCM_PIDFD is on). Descriptors
// sent with it are closed unused and refuse the connection. A refusal is
// an *Error and sticks: later Reads return it too.
func (p *Peer) Read(b []byte) (int, error) {
	s := &p.sys
	if s.refused != nil {
		return 0, s.refused
	}
	if len(b) == 0 {
		return 0, nil
	}
	s.buf = b
	err := p.raw.Read(s.readFn)
	s.buf = nil
	if err != nil {
		return 0, err
	}
	if s.errno != 0 {
		return 0, &net.OpError{Op: "read", Net: "unix", Err: s.errno}
	}
	if rerr := p.checkControl(); rerr != nil {
		s.refused = rerr
		return 0, rerr
	}
	if s.n == 0 {
		return 0, io.EOF
	}
	p.stampExec()
	return s.n, nil
}

// recvmsg is the RawConn callback: it fills s.n/s.errno and reports false
// only to wait for readability.
func (s *peerSys) recvmsg(fd uintptr) bool {
	s.iov.Base = &s.buf[0]
	s.iov.SetLen(len(s.buf))
	s.msg.Iov = &s.iov
	s.msg.SetIovlen(1)
	s.msg.Control = &s.oob[0]
	s.msg.SetControllen(len(s.oob))
	s.msg.Flags = 0
	for {
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&s.msg)), unix.MSG_CMSG_CLOEXEC)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.n, s.errno = int(n), e
		return true
	}
}
