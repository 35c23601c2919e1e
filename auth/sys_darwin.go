package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls of the macOS verifier. No decision is taken here (token.go
// takes them); errors that mean "the process or the peer is gone" are
// wrapped in errProcessGone, a missing file in errNoSuchFile.

// sockConn is macConn on an accepted unix socket.
type sockConn struct{ raw syscall.RawConn }

func (c sockConn) control(f func(fd int) error) error {
	var ferr error
	if err := c.raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// peerUID is LOCAL_PEERCRED's effective uid (what getpeereid(3) reads).
func (c sockConn) peerUID() (uint32, error) {
	var uid uint32
	err := c.control(func(fd int) error {
		cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return darwinErr(err)
		}
		if cred.Version != 0 { // XUCRED_VERSION
			return fmt.Errorf("xucred version %d", cred.Version)
		}
		uid = cred.Uid
		return nil
	})
	return uid, err
}

// The audit token is 32 bytes (eight uint32). x/sys has no getsockopt for
// it; GetsockoptICMPv6Filter reads exactly 32 bytes into eight uint32
// words through the same libSystem getsockopt, so it is borrowed. These
// constants fail to compile if that size ever differs.
const (
	_ = uint(unsafe.Sizeof(unix.ICMPv6Filter{}) - 32)
	_ = uint(32 - unsafe.Sizeof(unix.ICMPv6Filter{}))
)

// peerToken is LOCAL_PEERTOKEN: the audit token of the process that last
// used the peer's end of the socket, looked up by the kernel now.
func (c sockConn) peerToken() (auditToken, error) {
	var tok auditToken
	err := c.control(func(fd int) error {
		f, err := unix.GetsockoptICMPv6Filter(fd, unix.SOL_LOCAL, unix.LOCAL_PEERTOKEN)
		if err != nil {
			return darwinErr(err)
		}
		tok = tokenFromWords(f.Filt)
		return nil
	})
	return tok, err
}

// darwinProcs is macProcs on the running kernel.
type darwinProcs struct{}

// From <sys/proc_info.h> and <sys/proc.h>.
const (
	procInfoCallPIDInfo    = 2
	procPIDPathInfo        = 11
	procPIDPathInfoMaxSize = 4 * 1024 // PROC_PIDPATHINFO_MAXSIZE
	pTraced                = 0x800    // P_TRACED
)

// imagePath is proc_pidpath(3) without libproc: its system call,
// proc_info(PROC_INFO_CALL_PIDINFO, pid, PROC_PIDPATHINFO, 0, buf, size),
// made directly so that it works with cgo off. The kernel builds the path
// from the process's text vnode (not from argv, which the process can
// rewrite). Apple does not promise system call numbers: the macOS CI job
// runs this, and a failure refuses (identity_unavailable), never accepts.
func (darwinProcs) imagePath(pid int) (string, error) {
	buf := make([]byte, procPIDPathInfoMaxSize)
	_, _, errno := unix.Syscall6(unix.SYS_PROC_INFO, procInfoCallPIDInfo, uintptr(pid),
		procPIDPathInfo, 0, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno != 0 {
		return "", darwinErr(errno)
	}
	n := bytes.IndexByte(buf, 0)
	if n <= 0 {
		return "", errors.New("proc_pidpath: empty or unterminated path")
	}
	return string(buf[:n]), nil
}

// procInfo is sysctl kern.proc.pid.PID: creation time and P_TRACED.
func (darwinProcs) procInfo(pid int) (macProc, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return macProc{}, darwinErr(err)
	}
	if int(k.Proc.P_pid) != pid {
		return macProc{}, fmt.Errorf("kern.proc.pid.%d answered for pid %d", pid, k.Proc.P_pid)
	}
	st := k.Proc.P_starttime
	return macProc{
		Started: time.Unix(int64(st.Sec), int64(st.Usec)*1000),
		Traced:  k.Proc.P_flag&pTraced != 0,
	}, nil
}

// openImage opens path read-only; O_NOFOLLOW_ANY refuses a symlink in any
// component (the kernel's path has none, so one means a swap).
func (darwinProcs) openImage(path string) (macImage, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW_ANY, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: %v", errNoSuchFile, err)
		}
		return nil, err
	}
	return imageFD(fd), nil
}

// imageFD is an opened image.
type imageFD int

func (f imageFD) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f imageFD) Close() error { return unix.Close(int(f)) }

func (f imageFD) facts() (macFile, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f), &st); err != nil {
		return macFile{}, err
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f), &fs); err != nil {
		return macFile{}, err
	}
	changed := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	if born := time.Unix(st.Btim.Sec, st.Btim.Nsec); born.After(changed) {
		changed = born
	}
	return macFile{
		Key: fileKey{
			dev: uint64(uint32(st.Dev)), ino: st.Ino, size: uint64(st.Size),
			mtimeSec: st.Mtim.Sec, mtimeNsec: st.Mtim.Nsec,
			ctimeSec: st.Ctim.Sec, ctimeNsec: st.Ctim.Nsec,
		},
		Regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
		Nlink:   uint64(st.Nlink),
		Changed: changed,
		Local:   fs.Flags&unix.MNT_LOCAL != 0,
		FSType:  unix.ByteSliceToString(fs.Fstypename[:]),
	}, nil
}

// darwinErr marks the errors that mean the process or the peer is gone.
func darwinErr(err error) error {
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ECONNRESET) {
		return fmt.Errorf("%w: %v", errProcessGone, err)
	}
	return err
}
