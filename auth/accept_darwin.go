package auth

import (
	"errors"
	"net"
	"os"
)

// The macOS verifier: the decisions are in token.go (shared, tested on
// Linux through a fake); this file wires them to a connection and
// sys_darwin.go holds the system calls.

// verifierSys is the daemon's own euid and the process and file glue.
type verifierSys struct {
	euid  uint32
	procs macProcs
}

func (s *verifierSys) init() error {
	s.euid = uint32(os.Geteuid())
	s.procs = darwinProcs{}
	return nil
}

// peerSys is the connecting process as its audit token named it at Accept.
type peerSys struct{ tok *tokenPeer }

func (s *peerSys) reset()   { s.tok = nil }
func (s *peerSys) release() {}

// setup runs once per connection, from Accept: LOCAL_PEERCRED uid, then
// the connector's audit token (LOCAL_PEERTOKEN).
func (p *Peer) setup() error {
	t, err := p.v.acceptToken(sockConn{p.raw}, p.v.sys.euid)
	if err != nil {
		return err
	}
	p.sys.tok = t
	p.pid, p.uid = t.accepted.PID, t.uid
	return nil
}

// Read reads one chunk of the request. After every chunk that brought
// data, the socket's last user must still be the connecting process,
// running the program it connected with (macOS has no per-message sender
// credentials to check instead; see SECURITY.md). A refusal is an *Error
// and sticks.
func (p *Peer) Read(b []byte) (int, error) {
	if e := p.sys.tok.refused; e != nil {
		return 0, e
	}
	n, err := p.conn.Read(b)
	if n > 0 {
		if e := p.sys.tok.sameProcess(p.v); e != nil {
			return 0, e
		}
	}
	return n, err
}

// Identify reports who is behind the connection now; call it once per
// request, after the request was read. Errors are *Error.
func (p *Peer) Identify() (*Identity, error) {
	id, err := p.v.identifyToken(p.sys.tok, p.v.sys.procs)
	if err != nil {
		return nil, err
	}
	return id, nil
}

// PrepareListener has nothing to switch on: macOS attaches no sender
// credentials to stream messages, so the token is checked per chunk instead.
func PrepareListener(l *net.UnixListener) error {
	if l == nil {
		return errors.New("prepare listener: nil listener")
	}
	return nil
}
