package backend_test

import (
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
)

func TestMemoryDoubleConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) backend.Store { return backend.NewMemoryDouble() },
	})
}

func TestMemoryDoubleSaysItIsADouble(t *testing.T) {
	info := backend.NewMemoryDouble().Info()
	if info.Name == "file" || info.Warning == "" {
		t.Errorf("Info() = %+v: a test double must not pass for a real store", info)
	}
}
