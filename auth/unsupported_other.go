//go:build !linux && !windows && !darwin

package auth

import (
	"errors"
	"net"
)

// errUnsupported is what every peer gets on a platform without a verifier
// of its own (Linux, macOS and Windows have one). The daemon treats it as
// a denial.
var errUnsupported = &Error{Reason: ReasonIdentityUnavailable, Detail: "not supported on this platform yet"}

type verifierSys struct{}

func (s *verifierSys) init() error { return nil }

type peerSys struct{}

func (s *peerSys) reset()   {}
func (s *peerSys) release() {}

func (p *Peer) setup() error { return errUnsupported }

// Read is never reached: Accept refuses every peer on this platform.
func (p *Peer) Read(b []byte) (int, error) { return 0, errUnsupported }

// Identify is never reached: Accept refuses every peer on this platform.
func (p *Peer) Identify() (*Identity, error) { return nil, errUnsupported }

// PrepareListener does nothing on this platform yet.
func PrepareListener(l *net.UnixListener) error {
	if l == nil {
		return errors.New("prepare listener: nil listener")
	}
	return nil
}
