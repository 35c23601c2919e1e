//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"slices"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

// TestSecretServiceServices runs against a real gnome-keyring (opt-in) with
// other applications' items planted under a service of their own.
func TestSecretServiceServices(t *testing.T) {
	s := openTestSecretService(t)
	mine := []string{"enum-test-b", "enum-test-a"}
	for _, svc := range mine {
		if err := s.Set(svc, []Item{{Key: "k", Value: secret.New("v")}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Delete(svc, []string{"k"}) })
	}
	plantForeignSecretServiceItem(t, "enum-test-foreign", "k")
	got, err := s.Services()
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range mine {
		if !slices.Contains(got, svc) {
			t.Errorf("Services = %q, missing %q", got, svc)
		}
	}
	if slices.Contains(got, "enum-test-foreign") {
		t.Errorf("Services = %q lists another application's service", got)
	}
	if !slices.IsSorted(got) {
		t.Errorf("Services = %q, not sorted", got)
	}
}
