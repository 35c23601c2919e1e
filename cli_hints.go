package main

import (
	"errors"
	"fmt"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// refusal turns a denial or error answer into the CLI's error: a sentence
// for the reason code, the daemon's own hint first (it names what the
// daemon saw: a variable, a directory, the command to run), then the
// CLI's generic advice. The exit code follows the reason (spec §5).
func refusal(resp *transport.Response) *cliError {
	e := refusalFor(resp)
	if resp.Hint != "" {
		// printable (admin.go): a hint may repeat a path or an argument
		// the caller chose; it must not reach a terminal as escapes.
		e.hints = append([]string{printable(resp.Hint)}, e.hints...)
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
	case transport.ReasonKeychainAuthUpgraded:
		return fail(exitDenied, "denied: keychain_auth_upgraded: this keychain-auth is another build than the running daemon")
	case auth.ReasonScriptWritableByOthers:
		return fail(exitDenied, "denied: script_writable_by_others: the script, or its directory, can be written by other users")
	case auth.ReasonScriptPathRelative:
		return fail(exitDenied, "denied: script_path_relative: the script was started by a relative path")
	}
	if resp.Status == transport.StatusDenied {
		return fail(exitDenied, "denied: %s", resp.Reason)
	}
	return fail(exitError, "daemon answered %s: %s", resp.Status, resp.Reason)
}

// explainRefusal turns a refusal met outside roundTrip (STATUS, which the
// daemon refuses like any message, e.g. keychain_auth_upgraded) into the
// same error and hints; other errors are wrapped with op.
func explainRefusal(op string, err error) error {
	var re *transport.ResponseError
	if errors.As(err, &re) {
		return refusal(&transport.Response{Status: re.Status, Reason: re.Reason, Hint: re.Hint})
	}
	return fmt.Errorf("%s: %w", op, err)
}
