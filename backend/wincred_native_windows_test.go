package backend_test

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/danieljoos/wincred"
	"golang.org/x/sys/windows"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

// Credential Manager limits that Wine does not have: these run only in the
// native Windows workflow (.github/workflows/ci.yml) and skip under Wine.

func nativeOnly(t *testing.T, what string) {
	t.Helper()
	if windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil {
		t.Skipf("Wine does not have %s: runs in the native Windows workflow only", what)
	}
}

func randomName(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "kca-test-" + hex.EncodeToString(b)
}

// TestWindowsCredBlobLimit: the real Credential Manager refuses a blob of
// 2,561 bytes (canary: 2,560 are accepted), and the store still keeps a
// value of 64 KiB, split over that limit.
func TestWindowsCredBlobLimit(t *testing.T) {
	nativeOnly(t, "the 2,560-byte blob limit")
	target := randomName(t)
	c := wincred.NewGenericCredential(target)
	t.Cleanup(func() { _ = c.Delete() })
	c.CredentialBlob = make([]byte, 2560)
	if err := c.Write(); err != nil {
		t.Fatalf("canary: a 2,560-byte blob: %v", err)
	}
	c.CredentialBlob = make([]byte, 2561)
	if err := c.Write(); err == nil {
		t.Fatal("a 2,561-byte blob was accepted; the limit the store splits around is not what it assumes")
	}
	roundTrip(t, randomName(t), "k", strings.Repeat("v", 64<<10))
}

// TestWindowsCredLongNames: escaping makes target names up to three times
// longer than the service and key; Windows allows long generic targets
// (Wine stops at 247 characters).
func TestWindowsCredLongNames(t *testing.T) {
	nativeOnly(t, "long target names")
	roundTrip(t, randomName(t), strings.Repeat("K", 300), "value")
}

func roundTrip(t *testing.T, service, key, value string) {
	t.Helper()
	s, _, err := backend.Open(backend.NameWincred, backend.Options{})
	if err != nil {
		t.Fatalf("open credential manager: %v", err)
	}
	defer s.Close()
	t.Cleanup(func() { _ = s.Delete(service, []string{key}) })
	if err := s.Set(service, []backend.Item{{Key: key, Value: secret.New(value)}}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := s.Get(service, key)
	if err != nil || got.Value.Reveal() != value {
		t.Fatalf("Get: %d bytes, %v; want the %d bytes written", got.Value.Len(), err, len(value))
	}
}
