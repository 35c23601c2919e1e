package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/transport"
)

// connect dials the daemon named by --socket, KEYCHAIN_AUTH_SOCKET or the
// platform default; a daemon that does not answer is exit code 6.
func connect(c *cli.Context) (*transport.Client, error) {
	endpoint, err := transport.Endpoint(c.String("socket"))
	if err != nil {
		return nil, err
	}
	conn, err := transport.Dial(endpoint)
	if errors.Is(err, transport.ErrDaemonNotRunning) {
		return nil, notRunning(endpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to daemon at %s: %w", endpoint, err)
	}
	return transport.NewClient(conn), nil
}

func notRunning(endpoint string) *cliError {
	return fail(exitNotRunning, "the keychain-auth daemon is not running (no answer on %s)", endpoint).
		hint("start it with `keychain-auth serve`")
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

func refusal(resp *transport.Response) *cliError {
	e := refusalFor(resp)
	if resp.Hint != "" {
		// The daemon's own explanation comes first: it names what it saw.
		e.hints = append([]string{resp.Hint}, e.hints...)
	}
	return e
}

func refusalFor(resp *transport.Response) *cliError {
	switch resp.Reason {
	case transport.ReasonPendingApproval:
		return fail(exitUnregistered, "this program is not registered; it was queued for approval").
			hint("see it with `keychain-auth list-pending`, then `keychain-auth approve HASH`")
	case transport.ReasonPendingQueueFull:
		return fail(exitUnregistered, "this program is not registered, and the approval queue is full").
			hint("review `keychain-auth list-pending`; entries expire after 24 hours")
	case transport.ReasonServiceNotAllowed:
		return fail(exitDenied, "denied: the policy does not allow this service").
			hint("an admin can allow it with `keychain-auth grant PATH --read SERVICE` (or --write)")
	case transport.ReasonActionNotInPolicy:
		return fail(exitDenied, "denied: listing and prefix operations need search permission").
			hint("an admin can allow it with `keychain-auth grant PATH --search`")
	case transport.ReasonCourierNotScript:
		return fail(exitDenied, "denied: keychain-auth get/put/delete/ls answer only for scripts, and the program that ran this one is not a script the daemon can verify").
			hint("run it from a registered script (see SECURITY.md, \"Scripts\"); a program should speak the socket protocol itself (docs/protocol.md)")
	case transport.ReasonStoreLocked:
		return fail(exitError, "the secret store is locked").hint("unlock it with `keychain-auth unlock`")
	}
	if resp.Status == transport.StatusDenied {
		return fail(exitDenied, "denied: %s", resp.Reason)
	}
	return fail(exitError, "daemon answered %s: %s", resp.Status, resp.Reason)
}
