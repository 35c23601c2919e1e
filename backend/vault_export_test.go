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

// FailVaultWritesForTest makes every vault write fail. A snapshot write
// fails before the rename when landed is false, after it (a failed
// directory fsync) when true; a journal append fails before writing when
// landed is false, after its record was written and synced when true.
func FailVaultWritesForTest(landed bool, err error) (restore func()) {
	old, oldJ := writeVaultFile, writeJournalRecord
	writeVaultFile = func(path string, data []byte, perm os.FileMode) (bool, error) {
		if landed {
			if _, werr := old(path, data, perm); werr != nil {
				return false, werr
			}
		}
		return landed, err
	}
	writeJournalRecord = func(f *os.File, rec []byte, off int64) error {
		if landed {
			if werr := oldJ(f, rec, off); werr != nil {
				return werr
			}
		}
		return err
	}
	return func() { writeVaultFile, writeJournalRecord = old, oldJ }
}

// VaultCompactionForTest sets when the journal is compacted into a new
// snapshot: once it would pass max(minBytes, snapshot size >> shift).
// VaultCompactionForTest(0, 63) makes every write a snapshot write.
func VaultCompactionForTest(minBytes int64, shift uint) (restore func()) {
	oldMin, oldShift := compactMinBytes, compactShift
	compactMinBytes, compactShift = minBytes, shift
	return func() { compactMinBytes, compactShift = oldMin, oldShift }
}

// ErrJournalDamagedForTest is what a damaged journal record's error wraps.
var ErrJournalDamagedForTest = errJournalDamaged

// SkipJournalSyncForTest makes journal appends skip their fsync, so that a
// benchmark can fill a journal quickly before it measures something else.
func SkipJournalSyncForTest() (restore func()) {
	old := writeJournalRecord
	writeJournalRecord = func(f *os.File, rec []byte, off int64) error {
		_, err := f.WriteAt(rec, off)
		return err
	}
	return func() { writeJournalRecord = old }
}

// JournalBytesForTest reports how far the journal's records go.
func (v *Vault) JournalBytesForTest() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.j.pos.off
}
