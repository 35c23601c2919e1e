package backend

import (
	"os"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Hooks for the vault tests in package backend_test (which cannot be an
// internal test: it imports storetest, which imports backend).

// UseCheapKDFForTest makes new passphrase vaults use minimal Argon2id
// parameters so the suite stays fast; it returns the restore function.
func UseCheapKDFForTest() (restore func()) {
	old := defaultKDF
	defaultKDF = kdfParams{Time: 1, MemoryKiB: 64, Threads: 1}
	return func() { defaultKDF = old }
}

// DefaultKDFForTest reports the production Argon2id parameters.
func DefaultKDFForTest() (time, memoryKiB uint32, threads uint8) {
	return defaultKDF.Time, defaultKDF.MemoryKiB, defaultKDF.Threads
}

// DeriveDefaultKeyForTest runs the production KDF once, for the cost test.
func DeriveDefaultKeyForTest(pass string) {
	h, err := newPassphraseHeader()
	if err != nil {
		panic(err)
	}
	clear(deriveKey(secret.New(pass), &h)[:])
}

// FailVaultWritesForTest makes every vault write fail: before the rename
// when renamed is false, after it (a failed directory fsync) when true.
func FailVaultWritesForTest(renamed bool, err error) (restore func()) {
	old := writeVaultFile
	writeVaultFile = func(path string, data []byte, perm os.FileMode) (bool, error) {
		if renamed {
			if _, werr := old(path, data, perm); werr != nil {
				return false, werr
			}
		}
		return renamed, err
	}
	return func() { writeVaultFile = old }
}
