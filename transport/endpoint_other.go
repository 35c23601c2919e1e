//go:build !darwin && !windows

package transport

import (
	"os"
	"path/filepath"
)

func defaultEndpoint() (string, error) { return xdgEndpoint() }

// xdgEndpoint is the Linux (and other unix) default:
// $XDG_RUNTIME_DIR/keychain-auth/agent.sock, else
// ~/.cache/keychain-auth/agent.sock. A relative XDG_RUNTIME_DIR is ignored,
// as the XDG specification asks.
func xdgEndpoint() (string, error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(rt) {
		return filepath.Join(rt, appDir, socketName), nil
	}
	home, err := homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", appDir, socketName), nil
}
