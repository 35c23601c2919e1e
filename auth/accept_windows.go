package auth

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/windows"
)

// verifierSys is the daemon's own user.
type verifierSys struct{ user *windows.SID }

func (s *verifierSys) init() error {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("new verifier: %w", err)
	}
	s.user, err = u.User.Sid.Copy()
	return err
}

// peerSys pins the client process: a handle keeps its pid from being
// reused for as long as it is open.
type peerSys struct {
	proc    windows.Handle
	created time.Time
}

func (s *peerSys) reset() { s.proc = 0 }

func (s *peerSys) release() {
	if s.proc != 0 {
		windows.CloseHandle(s.proc)
		s.proc = 0
	}
}

// setup runs once per connection, from Accept: the client's pid from the
// pipe, a handle to that process opened at once, its creation time no
// later than the connection (else the pid was reused), its user ours.
func (p *Peer) setup() error {
	connected := time.Now()
	if c, ok := p.conn.(interface{ ConnectedAt() time.Time }); ok {
		connected = c.ConnectedAt()
	}
	var pid uint32
	var perr error
	if err := p.raw.Control(func(h uintptr) { perr = windows.GetNamedPipeClientProcessId(windows.Handle(h), &pid) }); err != nil {
		return refuse(ReasonIdentityUnavailable, "pipe control: %v", err)
	}
	if perr != nil {
		return refuse(ReasonIdentityUnavailable, "pipe client process: %v", perr)
	}
	p.pid = int(pid)
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, pid)
	if err != nil {
		return refuse(ReasonPeerExited, "open process %d: %v", pid, err)
	}
	p.sys.proc = h
	if p.sys.created, err = creationTime(h); err != nil {
		return refuse(ReasonIdentityUnavailable, "process %d: %v", pid, err)
	}
	if !p.v.opts.weak.NoPidfd && !startedBy(p.sys.created, connected) {
		return refuse(ReasonPeerExited, "process %d started after the connection", pid)
	}
	if err := p.v.checkUser(h, pid); err != nil {
		return err
	}
	return p.alive()
}

func creationTime(h windows.Handle) (time.Time, error) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, created.Nanoseconds()), nil
}

// checkUser refuses a process that runs as another user.
func (v *Verifier) checkUser(h windows.Handle, pid uint32) error {
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return refuse(ReasonIdentityUnavailable, "token of process %d: %v", pid, err)
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "user of process %d: %v", pid, err)
	}
	if !u.User.Sid.Equals(v.sys.user) && !v.opts.weak.NoUIDCheck {
		return refuse(ReasonUIDMismatch, "process %d runs as %s, the daemon as %s", pid, u.User.Sid, v.sys.user)
	}
	return nil
}

// alive reports peer_exited once the pinned process has exited.
func (p *Peer) alive() error {
	if p.v.opts.weak.NoPidfd {
		return nil
	}
	ev, err := windows.WaitForSingleObject(p.sys.proc, 0)
	switch {
	case err != nil:
		return refuse(ReasonIdentityUnavailable, "wait on process %d: %v", p.pid, err)
	case ev == windows.WAIT_OBJECT_0:
		return refuse(ReasonPeerExited, "process %d exited", p.pid)
	}
	return nil
}

// Read reads from the pipe. Windows tells nothing about which process wrote
// a chunk (see SECURITY.md: another process of the user can duplicate the
// client's handle), so there is no per-chunk check here.
func (p *Peer) Read(b []byte) (int, error) { return p.conn.Read(b) }

// PrepareListener has nothing to switch on for a pipe.
func PrepareListener(l net.Listener) error {
	if l == nil {
		return errors.New("prepare listener: nil listener")
	}
	return nil
}
