//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend_test

import (
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
)

// The conformance suite against a real gnome-keyring (run under
// scripts/with-secret-service.sh), with other applications' items planted
// in the same collection.
func TestSecretServiceConformance(t *testing.T) {
	backend.RequireSecretServiceForTest(t)
	storetest.Run(t, storetest.Harness{
		Open:         backend.OpenSecretServiceForTest,
		PlantForeign: backend.PlantForeignSecretServiceItem,
	})
}
