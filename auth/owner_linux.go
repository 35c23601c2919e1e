package auth

import (
	"net"

	"golang.org/x/sys/unix"
)

func connOwner(c *net.UnixConn) (Owner, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Owner{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Owner{}, err
	}
	if cerr != nil {
		return Owner{}, cerr
	}
	o := Owner{PID: int(cred.Pid), UID: cred.Uid}
	o.Exe, _ = readlinkProc(o.PID, "exe")
	return o, nil
}
