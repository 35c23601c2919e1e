//go:build !windows

package backend

import (
	"fmt"
	"runtime"
)

// The Credential Manager exists only on Windows.
func openWincredStore() (Store, error) {
	return nil, fmt.Errorf("the windows credential manager is not available on %s: %w", runtime.GOOS, ErrUnavailable)
}
