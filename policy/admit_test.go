package policy

import (
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
