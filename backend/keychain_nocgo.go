//go:build darwin && !cgo

package backend

import "fmt"

// The Keychain binding (keybase/go-keychain) needs cgo and the Security
// framework; a darwin build without cgo has no keychain backend and says so
// rather than falling back.
func openKeychainStore() (Store, error) {
	return nil, fmt.Errorf("keychain backend not compiled in (built without cgo): %w", ErrUnavailable)
}
