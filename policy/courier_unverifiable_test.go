package policy

import (
	"testing"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// On Windows the verifier reports keychain-auth's own CLI as itself with
// ScriptRefused courier_unverifiable (auth/image_windows.go): it is admitted
// (STATUS and the admin messages work), never queued for approval, and every
// item request is denied with that reason, even when the CLI's own path and
// hash are registered.
func TestCourierUnverifiable(t *testing.T) {
	cfg := testConfig(t)
	for _, exe := range []auth.Image{courier, tool} {
		id := as(exe)
		id.ScriptRefused = &auth.Error{Reason: auth.ReasonCourierUnverifiable, Detail: "why"}
		if Unregistered(cfg, id) {
			t.Errorf("%s: Unregistered = true; want admitted", exe.Path)
		}
		d := Decide(cfg, id, req(R, "tool", X, "k"))
		if d.Status != transport.StatusDenied || d.Reason != auth.ReasonCourierUnverifiable {
			t.Errorf("%s: Decide = %s/%s; want denied/%s", exe.Path, d.Status, d.Reason, auth.ReasonCourierUnverifiable)
		}
	}
}
