//go:build !linux && !darwin

package transport

import "errors"

// peerCredSupported is false: without a way to check who serves the socket,
// Dial refuses rather than trust it. Windows gets named pipes later.
const peerCredSupported = false

func peerUID(int) (uint32, error) { return 0, errors.ErrUnsupported }
