//go:build linux

package broker

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
)

func TestLifecycleOnStoreThatCannotLock(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow(nil, nil, false)
	c := f.dial()
	for _, line := range []string{`{"type":"LOCK"}`, `{"type":"UNLOCK","passphrase":"p"}`, `{"type":"PASSWD","passphrase":"","new_passphrase":"n"}`} {
		if got := c.ask(line); got != `{"type":"RESPONSE","status":"error","reason":"not_lockable"}` {
			t.Errorf("%s on the memory store: %s", line, got)
		}
	}
}

func TestLifecycleMalformed(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow(nil, nil, false)
	c := f.dial()
	for _, line := range []string{
		`{"type":"LOCK","passphrase":"p"}`,
		`{"type":"UNLOCK"}`,
		`{"type":"UNLOCK","passphrase":"p","PASSPHRASE":"q"}`,
		`{"type":"PASSWD","passphrase":"p","new_passphrase":""}`,
		`{"type":"REQUEST","action":"read","service":"s","targets":["k"],"passphrase":"p"}`,
	} {
		if got := c.ask(line); !strings.Contains(got, "malformed_request") {
			t.Errorf("%s: %s", line, got)
		}
	}
}

// vaultFixture serves a key-file vault instead of the memory store.
func vaultFixture(t *testing.T) (*fixture, *backend.Vault) {
	f := newFixture(t, Limits{})
	v, err := backend.OpenVault(t.TempDir(), backend.VaultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	f.srv.opt.Store = v
	f.allow([]string{"s"}, []string{"s"}, false)
	return f, v
}

func TestLockUnlockPasswdAndAutoLock(t *testing.T) {
	old := badPassphraseDelay
	badPassphraseDelay = 50 * time.Millisecond
	t.Cleanup(func() { badPassphraseDelay = old })
	f, v := vaultFixture(t)
	c := f.dial()
	ok := `{"type":"RESPONSE","status":"success"}`
	if got := c.ask(`{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"]}`); got != ok {
		t.Fatal(got)
	}
	if got := c.ask(`{"type":"LOCK"}`); got != ok || !v.Locked() {
		t.Fatalf("LOCK: %s (locked %v)", got, v.Locked())
	}
	read := `{"type":"REQUEST","action":"read","service":"s","targets":["k"]}`
	if got := c.ask(read); !strings.Contains(got, "store_locked") {
		t.Fatalf("read while locked: %s", got)
	}
	if got := c.ask(`{"type":"UNLOCK","passphrase":"not for a key file"}`); !strings.Contains(got, `"denied","reason":"bad_passphrase"`) {
		t.Fatalf("UNLOCK with a passphrase for a key-file vault: %s", got)
	}
	if got := c.ask(`{"type":"UNLOCK","passphrase":""}`); got != ok {
		t.Fatalf("UNLOCK: %s", got)
	}
	if got := c.ask(`{"type":"PASSWD","passphrase":"","new_passphrase":"pw-marker-1"}`); got != ok || v.Locked() {
		t.Fatalf("PASSWD: %s (locked %v)", got, v.Locked())
	}
	if got := c.ask(`{"type":"PASSWD","passphrase":"wrong","new_passphrase":"x"}`); !strings.Contains(got, "bad_passphrase") {
		t.Fatalf("PASSWD with a wrong passphrase: %s", got)
	}
	if got := c.ask(read); !strings.Contains(got, `"value":"v"`) {
		t.Fatalf("read after PASSWD: %s", got)
	}
	b, err := os.ReadFile(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pw-marker-1") || strings.Contains(string(b), "wrong") {
		t.Error("a passphrase reached the audit log")
	}

	ctx := t.Context()
	go f.srv.AutoLock(ctx, 150*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !v.Locked() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !v.Locked() {
		t.Fatal("auto-lock did not lock the idle vault")
	}
	if got := c.ask(`{"type":"UNLOCK","passphrase":"pw-marker-1"}`); got != ok {
		t.Fatalf("UNLOCK after auto-lock: %s", got)
	}
}
