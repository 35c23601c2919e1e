package backend

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
)

// isWindows: file mode bits mean little there (ACLs protect the profile).
const isWindows = runtime.GOOS == "windows"

// readKeyFile reads the raw 32-byte key of a key-file vault. Like ssh with a
// private key, it refuses a key file other users could read.
func readKeyFile(path string) (*[vaultKeySize]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vault key file: %w", err)
	}
	if !isWindows && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault key file %s has mode %04o; it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vault key file: %w", err)
	}
	defer clear(b)
	if len(b) != vaultKeySize {
		return nil, fmt.Errorf("vault key file %s is damaged (%d bytes, want %d)", path, len(b), vaultKeySize)
	}
	var key [vaultKeySize]byte
	copy(key[:], b)
	return &key, nil
}

// loadOrCreateKeyFile returns the key in path, writing a new random one
// (0600, atomically) when there is none. An existing key file without a
// vault is reused: it is what a creation killed between the two writes
// leaves.
func loadOrCreateKeyFile(path string) (*[vaultKeySize]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	var k [vaultKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("vault key: %w", err)
	}
	if _, err := atomicfile.WriteFile(path, k[:], 0o600); err != nil {
		clear(k[:])
		return nil, fmt.Errorf("vault key file: %w", err)
	}
	return &k, nil
}
