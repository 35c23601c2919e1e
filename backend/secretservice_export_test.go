//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import "testing"

// Hooks for the conformance test, which lives in package backend_test
// because storetest imports backend.

// OpenSecretServiceForTest opens the test keyring's store, or skips the
// test without the opt-in.
func OpenSecretServiceForTest(t *testing.T) Store { return openTestSecretService(t) }

// RequireSecretServiceForTest skips the test without the opt-in.
func RequireSecretServiceForTest(t *testing.T) { requireSecretService(t) }

// PlantForeignSecretServiceItem writes other applications' items.
var PlantForeignSecretServiceItem = plantForeignSecretServiceItem
