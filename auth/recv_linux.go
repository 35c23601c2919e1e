package auth

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// checkControl walks the control messages of the last recvmsg without
// allocating. Every SCM_RIGHTS descriptor and every SCM_PIDFD is closed
// whatever else is found; the first problem found is returned.
func (p *Peer) checkControl() *Error {
	s := &p.sys
	oobn := int(s.msg.Controllen)
	var refusal *Error
	note := func(e *Error) {
		if refusal == nil {
			refusal = e
		}
	}
	sawCred, sawPidfd := false, false
	for off := 0; off+unix.SizeofCmsghdr <= oobn; {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&s.oob[off]))
		end := off + int(h.Len)
		if int(h.Len) < unix.SizeofCmsghdr || end > oobn {
			note(errMalformedControl)
			break
		}
		data := s.oob[off+unix.CmsgLen(0) : end]
		if h.Level == unix.SOL_SOCKET {
			switch h.Type {
			case unix.SCM_RIGHTS:
				p.dropFDs(data)
				note(errFDPassing)
			case unix.SCM_CREDENTIALS:
				sawCred = true
				if e := p.checkCred(data); e != nil {
					note(e)
				}
			case unix.SCM_PIDFD:
				sawPidfd = true
				if e := p.checkPidfd(data); e != nil {
					note(e)
				}
			}
		}
		off += unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
	}
	if s.msg.Flags&unix.MSG_CTRUNC != 0 {
		note(errControlTruncated)
	}
	if refusal != nil && refusal.Reason == ReasonFDPassingRefused {
		return refusal
	}
	// End of stream carries no data to attribute; the kernel may still
	// attach empty credentials to it, which must not read as a refusal.
	if s.n == 0 || p.v.opts.weak.NoSenderCheck {
		return nil
	}
	if refusal != nil {
		return refusal
	}
	if !sawCred || (s.passPidfd && !sawPidfd) {
		return errNoCredentials
	}
	return nil
}

// Preallocated so that the refusal path does not allocate either.
var (
	errFDPassing        = &Error{Reason: ReasonFDPassingRefused, Detail: "peer sent file descriptors (closed unused)"}
	errMalformedControl = &Error{Reason: ReasonSenderNotConnector, Detail: "malformed control message"}
	errControlTruncated = &Error{Reason: ReasonSenderNotConnector, Detail: "control data truncated"}
	errNoCredentials    = &Error{Reason: ReasonSenderNotConnector, Detail: "chunk without sender credentials"}
	errSenderPID        = &Error{Reason: ReasonSenderNotConnector, Detail: "chunk written by another process"}
	errSenderPidfd      = &Error{Reason: ReasonSenderNotConnector, Detail: "chunk written by another process (pidfd)"}
)

func (p *Peer) dropFDs(data []byte) {
	for i := 0; i+4 <= len(data); i += 4 {
		fd := int(*(*int32)(unsafe.Pointer(&data[i])))
		if !p.v.opts.weak.KeepPassedFDs {
			unix.Close(fd)
		}
	}
}

func (p *Peer) checkCred(data []byte) *Error {
	if len(data) < unix.SizeofUcred {
		return errMalformedControl
	}
	c := (*unix.Ucred)(unsafe.Pointer(&data[0]))
	if int(c.Pid) != p.pid || c.Uid != p.uid {
		return errSenderPID
	}
	return nil
}

// checkPidfd compares the sender's pidfd with the connector's by inode:
// pidfs gives every pidfd of one process the same inode, so a process that
// reuses the connector's pid still differs.
func (p *Peer) checkPidfd(data []byte) *Error {
	if len(data) < 4 {
		return errMalformedControl
	}
	fd := int(*(*int32)(unsafe.Pointer(&data[0])))
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	unix.Close(fd)
	if p.sys.pidfd < 0 {
		return nil // naive test mode: nothing to compare with
	}
	if err != nil || st.Ino != p.sys.pidfdIno || uint64(st.Dev) != p.sys.pidfdDev {
		return errSenderPidfd
	}
	return nil
}
