//go:build linux

package broker

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
)

// A program at the daemon's own path with another hash (keychain-auth
// upgraded since serve started) is refused at connect with
// keychain_auth_upgraded and a hint to restart serve, audited with that
// reason, and not queued for approval. With Self left zero (the canary)
// the same caller is queued as an unknown program: the check is what
// changes the answer.
func TestUpgradedSelfRefusedNotQueued(t *testing.T) {
	f := newFixture(t, Limits{IdleTimeout: time.Minute})
	f.srv.opt.Self = auth.Image{Path: f.self.Path, Hash: "sha256:" + strings.Repeat("0", 64)}
	c := f.dial()
	got := c.answer()
	if !strings.Contains(got, `"reason":"keychain_auth_upgraded"`) || !strings.Contains(got, "restart `keychain-auth serve`") {
		t.Fatalf("answer %s, want keychain_auth_upgraded with a hint to restart serve", got)
	}
	if !c.closed() {
		t.Error("connection stays open after the refusal")
	}
	if recs, err := f.pending.List(); err != nil || len(recs) != 0 {
		t.Errorf("pending = %+v, %v; keychain-auth itself was queued", recs, err)
	}
	b, _ := os.ReadFile(f.audit)
	if !strings.Contains(string(b), `"reason":"keychain_auth_upgraded"`) || !strings.Contains(string(b), "restart `keychain-auth serve`") {
		t.Errorf("audit line lacks the reason and hint:\n%s", b)
	}

	canary := newFixture(t, Limits{IdleTimeout: time.Minute})
	if got := canary.dial().answer(); got != pendingLine {
		t.Fatalf("canary without Self: %s, want %s", got, pendingLine)
	}
}

// A program whose own path is registered with another hash is refused
// at connect as before (queued, pending approval) and the hint names
// `keychain-auth upgrade PATH`; the audit line carries it too.
func TestChangedProgramHintedAtConnect(t *testing.T) {
	f := newFixture(t, Limits{IdleTimeout: time.Minute})
	err := config.Update(f.cfgPath, func(c *config.Config) error {
		c.RegisteredBinaries = append(c.RegisteredBinaries, config.NewEntry(f.self.Path, "sha256:"+strings.Repeat("1", 64), time.Now()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.dial().answer()
	want := "keychain-auth upgrade " + f.self.Path
	if !strings.Contains(got, `"reason":"unregistered_binary_pending_approval"`) || !strings.Contains(got, want) {
		t.Fatalf("answer %s, want pending approval with a hint naming %q", got, want)
	}
	if b, _ := os.ReadFile(f.audit); !strings.Contains(string(b), want) {
		t.Errorf("audit line lacks the hint:\n%s", b)
	}
	if recs, err := f.pending.List(); err != nil || len(recs) != 1 {
		t.Errorf("pending = %+v, %v; want the changed program queued as before", recs, err)
	}
}
