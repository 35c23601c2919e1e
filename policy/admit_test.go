package policy

import (
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// Unregistered must agree with Decide: true exactly when every request
// would be answered unregistered_binary_pending_approval.
func TestUnregisteredAgreesWithDecide(t *testing.T) {
	cfg := testConfig(t)
	interp := as(bash)
	interp.ScriptRefused = &auth.Error{Reason: "script_not_verifiable", Detail: "why"}
	viaCLI := as(bash)
	viaCLI.Courier = as(courier)
	scriptViaCLI := as(bash)
	scriptViaCLI.Script = &auth.Image{Path: fixture("/home/u/bin/other.sh"), Hash: hash('7')}
	scriptViaCLI.Courier = as(courier)
	tests := []struct {
		name string
		id   *auth.Identity
		want bool
	}{
		{"registered program", as(tool), false},
		{"registered program, another hash", as(auth.Image{Path: tool.Path, Hash: hash('9')}), true},
		{"unknown program", as(bash), true},
		{"registered script", &auth.Identity{Exe: bash, Script: &script}, false},
		{"interpreter on a refused script", interp, false},
		{"the CLI for a shell", viaCLI, false},
		{"the CLI for an unregistered script", scriptViaCLI, false},
	}
	for _, tt := range tests {
		got := Unregistered(cfg, tt.id)
		if got != tt.want {
			t.Errorf("%s: Unregistered = %v, want %v", tt.name, got, tt.want)
		}
		if tt.id.Courier != nil {
			continue // decided per request as the script it relays for
		}
		d := Decide(cfg, tt.id, req(R, "tool", X, "k"))
		if pending := d.Reason == transport.ReasonPendingApproval; pending != tt.want {
			t.Errorf("%s: Decide says %q, Unregistered %v", tt.name, d.Reason, got)
		}
	}
	if !Unregistered(nil, as(tool)) {
		t.Error("an empty policy admits a program")
	}
}

// A changed program (its path registered, its hash not) is told to run
// upgrade, through Decide and PendingHint alike; an unknown path, or a
// registered program with the right hash, gets no hint, and the hint never
// names the registered hash or another entry's path.
func TestPendingHintNamesUpgrade(t *testing.T) {
	cfg := testConfig(t)
	changed := as(auth.Image{Path: tool.Path, Hash: hash('9')})
	d := Decide(cfg, changed, req(R, "tool", X, "k"))
	if d.Reason != transport.ReasonPendingApproval {
		t.Fatalf("reason %q, want %s", d.Reason, transport.ReasonPendingApproval)
	}
	want := "keychain-auth upgrade " + shellQuote(tool.Path) // quoted where the path has a backslash (Windows fixtures)
	if !strings.Contains(d.Hint, want) || !strings.Contains(d.Hint, hash('9')) {
		t.Errorf("hint %q does not name %q and the new hash", d.Hint, want)
	}
	if strings.Contains(d.Hint, tool.Hash) || strings.Contains(d.Hint, script.Path) {
		t.Errorf("hint %q reveals the registered hash or another entry", d.Hint)
	}
	if got := PendingHint(cfg, changed); got != d.Hint {
		t.Errorf("PendingHint %q, Decide's hint %q", got, d.Hint)
	}
	for name, id := range map[string]*auth.Identity{"unknown path": as(bash), "registered": as(tool), "nil": nil} {
		if h := PendingHint(cfg, id); h != "" {
			t.Errorf("%s: hint %q, want none", name, h)
		}
	}
}

// Upgraded fires only for the daemon's own path with another hash, and
// not for the daemon's own build, a courier-relayed caller, another path,
// or a daemon that did not say what it runs.
func TestUpgradedOnlyForOwnPathOtherBuild(t *testing.T) {
	newer := as(auth.Image{Path: courier.Path, Hash: hash('f')})
	d, ok := Upgraded(courier, newer)
	if !ok || d.Allowed || d.Reason != transport.ReasonKeychainAuthUpgraded || d.Status != transport.StatusDenied {
		t.Fatalf("newer CLI: %+v %v, want denied %s", d, ok, transport.ReasonKeychainAuthUpgraded)
	}
	if !strings.Contains(d.Hint, "restart `keychain-auth serve`") || !strings.Contains(d.Hint, courier.Path) {
		t.Errorf("hint %q does not say to restart serve", d.Hint)
	}
	relayed := as(bash)
	relayed.Courier = newer
	cases := map[string]struct {
		self auth.Image
		id   *auth.Identity
	}{
		"same build":     {courier, as(courier)},
		"other path":     {courier, as(auth.Image{Path: tool.Path, Hash: hash('f')})},
		"courier":        {courier, relayed},
		"self not given": {auth.Image{}, newer},
		"nil":            {courier, nil},
	}
	for name, c := range cases {
		if _, ok := Upgraded(c.self, c.id); ok {
			t.Errorf("%s: Upgraded fired", name)
		}
	}
}
