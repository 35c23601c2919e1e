//go:build !linux

package auth

import (
	"errors"
	"net"
)

func connOwner(*net.UnixConn) (Owner, error) {
	return Owner{}, errors.New("connection owner: not supported on this platform")
}
