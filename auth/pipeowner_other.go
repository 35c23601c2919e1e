//go:build !windows

package auth

import (
	"errors"
	"net"
)

// PipeOwner: named pipes are Windows's (pipeowner_windows.go).
func PipeOwner(net.Conn) (Owner, error) {
	return Owner{}, errors.New("connection owner: named pipes exist on Windows only")
}
