//go:build !(linux || freebsd || netbsd || openbsd || dragonfly)

package backend

import (
	"fmt"
	"runtime"
)

// The Secret Service is a freedesktop.org API; other systems have their own
// native store (keychain, wincred).
func openSecretServiceStore(string, bool) (Store, error) {
	return nil, fmt.Errorf("the secret service is not supported on %s: %w", runtime.GOOS, ErrUnavailable)
}
