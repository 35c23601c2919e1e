//go:build darwin && cgo

package backend_test

import (
	"os"
	"testing"

	"github.com/keybase/go-keychain"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
)

// The conformance suite against the real default keychain. It writes to the
// user's keychain, so it runs only with KEYCHAIN_AUTH_TEST_KEYCHAIN=1 (a CI
// runner's throwaway login keychain); every subtest uses random service
// names and removes what it wrote.
func TestKeychainConformance(t *testing.T) {
	requireTestKeychain(t)
	open := func(t *testing.T) backend.Store {
		s, _, err := backend.Open(backend.NameKeychain, backend.Options{})
		if err != nil {
			t.Fatalf("open keychain: %v", err)
		}
		return s
	}
	storetest.Run(t, storetest.Harness{Open: open, PlantForeign: plantForeignKeychainItem})
}

// plantForeignKeychainItem adds generic passwords another program could
// write: one under the plain service name, one under keychain-auth's own
// service prefix but without its marker.
func plantForeignKeychainItem(t *testing.T, service, key string) {
	for _, svc := range []string{service, "keychain-auth:" + service} {
		it := keychain.NewGenericPassword(svc, key, "foreign", []byte("foreign"), "")
		if err := keychain.AddItem(it); err != nil {
			t.Fatalf("plant foreign keychain item: %v", err)
		}
		t.Cleanup(func() { _ = keychain.DeleteGenericPasswordItem(svc, key) })
	}
}

// requireTestKeychain skips a test that writes to the default keychain
// unless KEYCHAIN_AUTH_TEST_KEYCHAIN=1 says it is a throwaway one; the
// macOS CI job sets KEYCHAIN_AUTH_REQUIRE_KEYCHAIN=1 too, so that there a
// missing keychain fails instead of skipping.
func requireTestKeychain(t *testing.T) {
	t.Helper()
	if os.Getenv("KEYCHAIN_AUTH_TEST_KEYCHAIN") == "1" {
		return
	}
	if os.Getenv("KEYCHAIN_AUTH_REQUIRE_KEYCHAIN") == "1" {
		t.Fatal("KEYCHAIN_AUTH_REQUIRE_KEYCHAIN=1 but KEYCHAIN_AUTH_TEST_KEYCHAIN is not 1: the Keychain tests would be skipped")
	}
	t.Skip("macOS keychain tests write to the user's keychain; set KEYCHAIN_AUTH_TEST_KEYCHAIN=1 to run them")
}
