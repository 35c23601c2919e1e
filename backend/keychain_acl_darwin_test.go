//go:build darwin && cgo

package backend_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

// TestKeychainItemOnlyForKeychainAuth: an item the Keychain store writes
// gets the keychain's default access, which trusts only the program that
// created it (here the test binary, in use the daemon): another program of
// the same user, /usr/bin/security, asking for the value gets the system's
// confirmation (refused without a person to answer it) and not the value.
// Canary: an item added with `security add-generic-password -A` (every
// program trusted) is printed by the same command. Written on Linux; runs
// only in the macOS CI job.
func TestKeychainItemOnlyForKeychainAuth(t *testing.T) {
	requireTestKeychain(t)
	var r [8]byte
	rand.Read(r[:])
	service := "kca-acl-" + hex.EncodeToString(r[:])
	value := "acl-value-" + hex.EncodeToString(r[:])

	find := func(svc string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, "/usr/bin/security", "find-generic-password", "-s", svc, "-a", "key", "-w").Output()
		return string(out)
	}

	canary := service + "-open"
	if out, err := exec.Command("/usr/bin/security", "add-generic-password", "-s", canary, "-a", "key", "-w", value, "-A").CombinedOutput(); err != nil {
		t.Fatalf("add the canary item: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("/usr/bin/security", "delete-generic-password", "-s", canary, "-a", "key").Run() })
	if got := find(canary); !strings.Contains(got, value) {
		t.Fatalf("canary: an item that trusts every program should be printed by security, got %q", got)
	}

	s, _, err := backend.Open(backend.NameKeychain, backend.Options{})
	if err != nil {
		t.Fatalf("open keychain: %v", err)
	}
	defer s.Close()
	if err := s.Set(service, []backend.Item{{Key: "key", Value: secret.New(value)}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Delete(service, []string{"key"}) })
	if got := find("keychain-auth:" + service); strings.Contains(got, value) {
		t.Fatal("another program of the user read an item keychain-auth wrote without any confirmation")
	}
}
