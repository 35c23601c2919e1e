package transport

import "path/filepath"

// defaultEndpoint: ~/Library/Application Support/keychain-auth/agent.sock.
func defaultEndpoint() (string, error) {
	home, err := homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "Application Support", appDir, socketName), nil
}
