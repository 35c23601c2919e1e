//go:build !darwin

package backend

import (
	"fmt"
	"runtime"
)

// The macOS Keychain exists only on darwin.
func openKeychainStore() (Store, error) {
	return nil, fmt.Errorf("the macOS keychain is not available on %s: %w", runtime.GOOS, ErrUnavailable)
}
