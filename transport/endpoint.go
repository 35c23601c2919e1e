package transport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvSocket names the environment variable that overrides the endpoint.
const EnvSocket = "KEYCHAIN_AUTH_SOCKET"

// socketName is the socket file inside the per-user directory.
const socketName = "agent.sock"

// appDir is the directory name under the per-user base directory.
const appDir = "keychain-auth"

// Endpoint picks the endpoint a command uses: the --socket flag when set,
// else $KEYCHAIN_AUTH_SOCKET when set, else DefaultEndpoint.
func Endpoint(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv(EnvSocket); env != "" {
		return env, nil
	}
	return DefaultEndpoint()
}

// DefaultEndpoint is the platform's default endpoint (spec §2): a socket
// path on Linux and macOS, a named pipe name on Windows.
func DefaultEndpoint() (string, error) {
	return defaultEndpoint()
}

// homeDir is os.UserHomeDir, refusing a relative answer.
func homeDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("default endpoint: %w", err)
	}
	if !filepath.IsAbs(home) {
		return "", errors.New("default endpoint: home directory is not an absolute path")
	}
	return home, nil
}
