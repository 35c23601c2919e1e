package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// pipeEndpoint is the daemon's named pipe (transport.ListenPipe).
type pipeEndpoint struct{ *transport.PipeListener }

func (e pipeEndpoint) serving() net.Listener { return e.PipeListener }

// listenUser creates the named pipe endpoint (spec §2: current user only,
// first instance, local clients only). A name that exists already (a
// daemon of ours, another user's daemon, or a program that squats the name)
// is a refusal: sharing the name would let that process take our clients.
func listenUser(endpoint string) (userEndpoint, error) {
	ln, err := transport.ListenPipe(endpoint)
	if errors.Is(err, transport.ErrPipeTaken) {
		return nil, fail(exitError, "the pipe %s is already in use by another process (a keychain-auth daemon, another user's daemon, or a program that took the name first); not starting a second one on it", endpoint).
			hint("`keychain-auth status` tells whether your daemon answers there; if not, give this daemon and its clients a pipe of their own, e.g. set KEYCHAIN_AUTH_SOCKET=\\\\.\\pipe\\keychain-auth-%%USERNAME%% for both (SECURITY.md, Windows)")
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", endpoint, err)
	}
	if err := auth.PrepareListener(ln); err != nil {
		ln.Close()
		return nil, fmt.Errorf("prepare listener: %w", err)
	}
	return pipeEndpoint{ln}, nil
}
