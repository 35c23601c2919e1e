//go:build darwin && !cgo

package backend

import (
	"errors"
	"strings"
	"testing"
)

// A darwin build without cgo has no keychain and says so.
func TestKeychainNotCompiledIn(t *testing.T) {
	_, _, err := Open(NameKeychain, Options{DataDir: t.TempDir()})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not compiled in (built without cgo)") {
		t.Fatalf("Open(keychain) without cgo = %v", err)
	}
}
