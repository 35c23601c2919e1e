package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// connect dials the daemon (see dialDaemon); a daemon that does not answer
// is exit code 6.
func connect(c *cli.Context) (*transport.Client, error) {
	conn, _, err := dialDaemon(c.String("socket"))
	if err != nil {
		return nil, err
	}
	return transport.NewClient(conn), nil
}

// endpointChoice is the endpoint a client command talks to, and whom it
// accepts on the other end.
type endpointChoice struct {
	path   string
	system bool     // system mode is installed: the daemon must be root or the service user
	uids   []uint32 // with system: root and the service user
}

// chooseEndpoint applies spec §7. Where system mode is installed the
// client uses the system socket unless --socket or KEYCHAIN_AUTH_SOCKET
// names another, and whatever it uses must pass the system check: a
// program running as the user can plant KEYCHAIN_AUTH_SOCKET in the
// user's shell startup files, and must not thereby receive the user's
// values. Elsewhere it is user mode: the daemon must run as our own uid.
func chooseEndpoint(flag string) (endpointChoice, error) {
	layout := config.System()
	installed, err := layout.Installed()
	if err != nil {
		return endpointChoice{}, fail(exitError, "%v", err).
			hint("system mode's directory must be root's alone; nothing was sent")
	}
	if !installed {
		ep, err := transport.Endpoint(flag)
		return endpointChoice{path: ep}, err
	}
	svc, err := layout.LookupService()
	if err != nil {
		return endpointChoice{}, fail(exitError, "system mode is installed (%s), but: %v", layout.Root, err).
			hint("repair it with `sudo keychain-auth install --system`")
	}
	ep := flag
	if ep == "" {
		ep = os.Getenv(transport.EnvSocket)
	}
	if ep == "" {
		ep = layout.Socket
	}
	return endpointChoice{path: ep, system: true, uids: []uint32{0, svc.UID}}, nil
}

// dialDaemon connects to the chosen endpoint after shielding this process
// (shieldProcess): whatever follows may carry a value or a passphrase.
func dialDaemon(flag string) (net.Conn, endpointChoice, error) {
	ch, err := chooseEndpoint(flag)
	if err != nil {
		return nil, ch, err
	}
	if err := shieldProcess(ch.system); err != nil {
		return nil, ch, err
	}
	var conn net.Conn
	if ch.system {
		conn, err = transport.DialSystem(ch.path, ch.uids)
	} else {
		conn, err = transport.Dial(ch.path)
	}
	switch {
	case errors.Is(err, transport.ErrDaemonNotRunning):
		return nil, ch, notRunning(ch)
	case errors.Is(err, transport.ErrUntrustedEndpoint):
		return nil, ch, fail(exitError, "refusing to talk to %s: %v; nothing was sent", ch.path, errors.Unwrap(err)).
			hint("system mode is installed, so only the system daemon (%s) is trusted; check --socket and KEYCHAIN_AUTH_SOCKET (a program may have planted it)", config.System().Socket)
	case err != nil:
		return nil, ch, fmt.Errorf("connect to daemon at %s: %w", ch.path, err)
	}
	return conn, ch, nil
}

func notRunning(ch endpointChoice) *cliError {
	e := fail(exitNotRunning, "the keychain-auth daemon is not running (no answer on %s)", ch.path)
	if ch.system {
		return e.hint("start the system daemon with `sudo systemctl start keychain-auth` (or `sudo keychain-auth serve --system` where systemd does not run)")
	}
	return e.hint("start it with `keychain-auth serve`")
}

// roundTrip sends one request and turns a refusal into the exit code a
// script can branch on.
func roundTrip(c *cli.Context, req *transport.Request) (*transport.Response, error) {
	cl, err := connect(c)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req.Type = transport.TypeRequest
	resp, err := cl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("talk to daemon: %w", err)
	}
	if resp.Status == transport.StatusSuccess {
		return resp, nil
	}
	return nil, refusal(resp)
}
