//go:build !unix

package transport

import (
	"errors"
	"fmt"
)

// Listen is not implemented here yet (Windows needs a named pipe).
func Listen(path string) (*Listener, error) {
	return nil, fmt.Errorf("listen %s: %w", path, errors.ErrUnsupported)
}
