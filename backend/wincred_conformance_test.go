package backend_test

import (
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
)

// The Credential Manager store's layout (escaping, chunking over the
// 2,560-byte limit, manifests, filtering) against a fake with the real
// API's limits, on every OS. wincred_windows_test.go runs the same suite
// against the real Credential Manager.
func TestWincredLayoutConformance(t *testing.T) {
	open, plant := backend.NewFakeWincredForTest()
	storetest.Run(t, storetest.Harness{Open: open, PlantForeign: plant})
}
