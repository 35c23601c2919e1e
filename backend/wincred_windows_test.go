//go:build windows

package backend_test

import (
	"os"
	"testing"

	"github.com/danieljoos/wincred"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
)

// The conformance suite against the real Credential Manager of the user
// running the tests (a CI runner's throwaway account). Every subtest uses
// random service names and removes what it wrote.
func TestWincredConformance(t *testing.T) {
	open := func(t *testing.T) backend.Store {
		s, _, err := backend.Open(backend.NameWincred, backend.Options{})
		if err != nil && os.Getenv("KEYCHAIN_AUTH_REQUIRE_WINCRED") == "1" {
			t.Fatalf("credential manager required (KEYCHAIN_AUTH_REQUIRE_WINCRED=1) but not usable: %v", err)
		}
		if err != nil {
			t.Skipf("credential manager not usable in this session: %v", err)
		}
		return s
	}
	storetest.Run(t, storetest.Harness{Open: open, PlantForeign: plantForeignCredential})
}

// plantForeignCredential writes a generic credential as another program
// (git's credential helper, for one) would.
func plantForeignCredential(t *testing.T, service, key string) {
	c := wincred.NewGenericCredential("git:https://" + service + "/" + key)
	c.CredentialBlob = []byte("foreign")
	if err := c.Write(); err != nil {
		t.Fatalf("plant foreign credential: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete() })
}
