//go:build !unix

package transport

import (
	"errors"
	"fmt"
	"net"
)

// DialSystem: system mode exists only on Linux.
func DialSystem(path string, _ []uint32) (net.Conn, error) {
	return nil, fmt.Errorf("dial %s: system mode: %w", path, errors.ErrUnsupported)
}

// ListenSystem: system mode exists only on Linux.
func ListenSystem(path string) (*Listener, error) {
	return nil, fmt.Errorf("listen %s: system mode: %w", path, errors.ErrUnsupported)
}
