package backend

import (
	"slices"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

func TestVaultServices(t *testing.T) {
	v, err := OpenVault(t.TempDir(), VaultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got, err := v.Services(); err != nil || len(got) != 0 {
		t.Fatalf("empty vault: Services = %v, %v", got, err)
	}
	for _, svc := range []string{"zeta", "alpha", "Alpha", "gone"} {
		if err := v.Set(svc, []Item{{Key: "k", Value: secret.New("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Delete("gone", []string{"k"}); err != nil {
		t.Fatal(err)
	}
	got, err := v.Services()
	if want := []string{"Alpha", "alpha", "zeta"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Services = %v, %v; want %v", got, err, want)
	}
	if err := v.Lock(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Services(); err == nil {
		t.Error("Services of a locked vault succeeded")
	}
}

// TestWincredServices runs against the fake Credential Manager, which
// compares target names case-insensitively as Windows does, with foreign
// and damaged credentials planted under and beside our prefix.
func TestWincredServices(t *testing.T) {
	f := newFakeCredManager()
	w := newWincred(f)
	for _, svc := range []string{"b:svc", "a svc", "UPPER"} {
		if err := w.Set(svc, []Item{{Key: "k:1", Value: secret.New("v")}, {Key: "k2", Value: secret.New(string(make([]byte, 6000)))}}); err != nil {
			t.Fatal(err)
		}
	}
	f.plant(t, "foreign-only", "key")
	got, err := w.Services()
	if want := []string{"UPPER", "a svc", "b:svc"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Services = %q, %v; want %q", got, err, want)
	}
}
