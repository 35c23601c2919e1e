//go:build !windows

package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// socketEndpoint is a socket file with its lock (transport.Listen).
type socketEndpoint struct{ *transport.Listener }

func (e socketEndpoint) serving() net.Listener { return e.Unix() }

// listenUser listens on the socket at endpoint for a user-mode daemon and
// switches on the verifier's socket options. A live daemon there is a
// refusal with its own message.
func listenUser(endpoint string) (userEndpoint, error) {
	ln, err := transport.Listen(endpoint)
	if errors.Is(err, transport.ErrDaemonRunning) {
		return nil, fail(exitError, "a daemon is already running on %s", endpoint).hint("`keychain-auth status` shows it")
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", endpoint, err)
	}
	if err := auth.PrepareListener(ln.Unix()); err != nil {
		ln.Close()
		return nil, fmt.Errorf("prepare listener: %w", err)
	}
	return socketEndpoint{ln}, nil
}
