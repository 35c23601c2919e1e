//go:build !darwin && !windows

package transport

import (
	"os"
	"path/filepath"
)

// CacheEndpoint is where clients look when they have no XDG_RUNTIME_DIR
// (cron, su, a service manager): ~/.cache/keychain-auth/agent.sock, as the
// original project's clients do. ok is false when that is already the
// default endpoint (XDG_RUNTIME_DIR unset), so there is nothing more to
// answer on. The user-mode daemon also listens there, because clients of
// the original cannot be taught to try /run/user/UID.
func CacheEndpoint() (path string, ok bool, err error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); !filepath.IsAbs(rt) {
		return "", false, nil
	}
	home, err := homeDir()
	if err != nil {
		return "", false, err
	}
	return filepath.Join(home, ".cache", appDir, socketName), true, nil
}
