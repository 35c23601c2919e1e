package broker

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// lingerFor bounds how long a refused connection is drained so that a client
// which wrote its request before reading sees the refusal line, not a reset.
const lingerFor = 2 * time.Second

// serveConn runs one connection: identify the peer, refuse at once a peer it
// will serve nothing, then answer one request line at a time until the peer
// leaves, idles out or is refused. The daemon writes a line only in answer
// to a request, except for those refusals at connection (spec §3).
func (s *Server) serveConn(c Conn) {
	defer c.Close()
	peer, err := s.opt.Verifier.Accept(c)
	if err != nil {
		s.refuseIdentity(c, err)
		return
	}
	defer peer.Close()
	if resp := s.admit(peer); resp != nil {
		s.finish(c, resp)
		return
	}
	lines := transport.NewLineReader(peer, s.opt.Limits.MaxLine)
	for {
		if err := c.SetReadDeadline(time.Now().Add(s.opt.Limits.IdleTimeout)); err != nil {
			return
		}
		line, err := lines.ReadLine()
		if err != nil {
			s.readFailed(c, err)
			return
		}
		resp, keep := s.handleLine(peer, line)
		if err := transport.WriteMessage(c, resp); err != nil {
			return
		}
		if !keep {
			linger(c)
			return
		}
	}
}

// readFailed answers the read errors that deserve an answer before closing.
func (s *Server) readFailed(c Conn, err error) {
	var aerr *auth.Error
	switch {
	case errors.Is(err, transport.ErrLineTooLong):
		s.opt.Logger.Warn("request line over the limit; closing", "limit", s.opt.Limits.MaxLine)
		s.finish(c, errorResponse(transport.ReasonMalformed))
	case errors.As(err, &aerr):
		s.refuseIdentity(c, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Closed without a line, as the original did: a line sent now
		// would be taken as the answer to a request the client may be
		// writing at this very moment. A client that finds the connection
		// closed reconnects. linger turns a request that crossed the
		// close into a clean end of stream rather than a reset.
		s.opt.Logger.Debug("idle connection closed", "after", s.opt.Limits.IdleTimeout)
		linger(c)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		s.opt.Logger.Debug("connection read ended", "err", err)
	}
}

// refuseIdentity answers an identity failure with its reason and closes.
func (s *Server) refuseIdentity(c Conn, err error) {
	s.finish(c, s.identityFailed(err))
}

// finish writes a last response and closes gracefully.
func (s *Server) finish(c Conn, resp *transport.Response) {
	_ = c.SetWriteDeadline(time.Now().Add(lingerFor))
	if transport.WriteMessage(c, resp) == nil {
		linger(c)
	}
}

// linger half-closes the connection and drains what the client still sends,
// so that its pending write does not turn our last line into a reset.
func linger(c Conn) {
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(lingerFor))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 4<<20))
}

// refuseBusy answers a connection over the concurrency limit.
func refuseBusy(c Conn) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(lingerFor))
	if transport.WriteMessage(c, errorResponse(transport.ReasonTooManyConnections)) == nil {
		linger(c)
	}
}

func errorResponse(reason string) *transport.Response {
	return &transport.Response{Type: transport.TypeResponse, Status: transport.StatusError, Reason: reason}
}

func deniedResponse(reason string) *transport.Response {
	return &transport.Response{Type: transport.TypeResponse, Status: transport.StatusDenied, Reason: reason}
}
