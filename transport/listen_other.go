//go:build !unix

package transport

import (
	"errors"
	"fmt"
)

// Listen is for socket files, which the daemon does not use here: on
// Windows its endpoint is a named pipe (ListenPipe, which serve uses).
func Listen(path string) (*Listener, error) {
	return nil, fmt.Errorf("listen %s: socket files are not an endpoint on this platform (Windows: a named pipe, \\\\.\\pipe\\NAME): %w", path, errors.ErrUnsupported)
}
