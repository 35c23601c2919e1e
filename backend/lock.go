package backend

import (
	"fmt"
	"os"
)

// lockFile takes an exclusive advisory lock on path, creating it 0600 if
// needed, and waits while another process (or another open of the same file
// in this one) holds it. The vault holds it across every read-modify-write,
// so the daemon and an offline command such as migrate or passwd never
// interleave their writes. The lock dies with the process, so a crashed
// holder never wedges the vault.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		// Closing the descriptor releases the lock on every OS we support.
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}
