package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/transport"
)

// The daemon's hint is printed first, before the CLI's generic advice,
// and a control character in it (a path or argument the caller chose)
// is quoted rather than sent to the terminal.
func TestRefusalPrintsDaemonHintFirstAndQuoted(t *testing.T) {
	resp := &transport.Response{Status: transport.StatusDenied, Reason: transport.ReasonPendingApproval,
		Hint: "/tmp/x\x1b[2Jy is registered, but its hash changed"}
	var stderr bytes.Buffer
	code := report(&stderr, refusal(resp))
	if code != exitUnregistered {
		t.Errorf("exit %d, want %d", code, exitUnregistered)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "keychain-auth: hint: ") || !strings.Contains(lines[2], "list-pending") {
		t.Fatalf("stderr:\n%s\nwant error, the daemon's hint, then the generic hint", stderr.String())
	}
	if strings.Contains(stderr.String(), "\x1b") || !strings.Contains(lines[1], `\x1b[2J`) {
		t.Errorf("control character not quoted: %q", lines[1])
	}
}

// A refused STATUS (a *transport.ResponseError) is explained like any
// refusal, hint included; another error is wrapped with the operation.
func TestExplainRefusal(t *testing.T) {
	err := explainRefusal("ask daemon for status", &transport.ResponseError{Status: transport.StatusDenied,
		Reason: transport.ReasonKeychainAuthUpgraded, Hint: "restart `keychain-auth serve`"})
	var stderr bytes.Buffer
	if code := report(&stderr, err); code != exitDenied || !strings.Contains(stderr.String(), "keychain-auth: hint: restart `keychain-auth serve`") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	other := explainRefusal("ask daemon for status", errors.New("broken pipe"))
	if other.Error() != "ask daemon for status: broken pipe" {
		t.Errorf("other error: %v", other)
	}
}
