//go:build !unix

package transport

import (
	"errors"
	"fmt"
)

// Listen is not implemented here. On Windows the daemon's endpoint is
// ListenPipe, which the broker cannot serve until it accepts a net.Conn
// (docs/windows.md).
func Listen(path string) (*Listener, error) {
	return nil, fmt.Errorf("listen %s: serve does not run on this platform yet (Windows: see docs/windows.md): %w", path, errors.ErrUnsupported)
}
