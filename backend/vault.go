package backend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/internal/fresh"
	"github.com/keychain-auth/keychain-auth/secret"
)

// File names inside the vault directory.
const (
	// VaultFileName is the encrypted vault.
	VaultFileName = "vault.kav"
	// VaultKeyFileName holds the random key of a vault without a passphrase.
	VaultKeyFileName = "vault.key"
	// VaultLockFileName is the lock every writer of the vault holds.
	VaultLockFileName = "vault.lock"
	// VaultJournalFileName holds the encrypted writes made since the vault
	// file was last written (see vault_journal.go).
	VaultJournalFileName = "vault.journal"
)

// ErrPassphraseRequired: the vault is protected by a passphrase and none was
// given. Callers branch on it to prompt for one.
var ErrPassphraseRequired = errors.New("vault is protected by a passphrase; none was given")

// ErrKeyFileVault: a passphrase was given for a vault that is protected by
// a key file. Unlock and passwd answer it as a wrong passphrase.
var ErrKeyFileVault = errPassphraseNotUsed

var (
	errPassphraseNotUsed = errors.New("vault is protected by a key file, not a passphrase")
	errVaultClosed       = errors.New("vault is closed")
)

// VaultOptions configure OpenVault.
type VaultOptions struct {
	// Passphrase protects the vault. Empty means key-file mode: a random
	// key in a 0600 file beside the vault. An existing vault must be opened
	// the way it was created.
	Passphrase secret.Value
	// LockedWithoutPassphrase opens an existing passphrase vault locked
	// when Passphrase is empty, instead of failing with
	// ErrPassphraseRequired: the daemon then starts and waits for Unlock.
	LockedWithoutPassphrase bool
}

// Vault is the encrypted file store: a snapshot, VaultFileName, holding every
// service, key, value and attribute, encrypted as a whole with
// XChaCha20-Poly1305 under a key from Argon2id (passphrase mode) or from a
// key file, and a journal, VaultJournalFileName, of the batches written
// since, each sealed with the same key. Reads are served from the decrypted
// copy in memory. A change is one synced journal record, written under an
// exclusive file lock; now and then it is a new snapshot instead, written
// atomically (temporary file, fsync, rename), which replaces the journal.
// Memory changes only once the change is on disk, so a batch is
// all-or-nothing. Changes written by another process (an offline command)
// are picked up before the next read or write.
type Vault struct {
	dir, path, keyPath, lockPath, journalPath string

	mu     sync.RWMutex
	hdr    header              // version, mode, KDF, salt and nonce of the snapshot on disk
	key    *[vaultKeySize]byte // nil while locked or closed
	data   vaultData           // nil while locked or closed
	disk   os.FileInfo         // the snapshot as this process last read or wrote it
	j      journalState        // the journal likewise
	closed bool

	watcher *fresh.Watcher // nil: every read stats the journal
	jw      journalWatch   // vault_fresh.go
}

var _ Store = (*Vault)(nil)

// writeVaultFile replaces the vault file; tests swap it to make a write fail
// before or after its rename.
var writeVaultFile = atomicfile.WriteFile

// OpenVault opens the vault in dir, creating dir (0700) and an empty vault
// if there is none. A wrong passphrase, or a damaged file, is an error
// wrapping ErrBadPassphrase, and the file is left untouched.
func OpenVault(dir string, opts VaultOptions) (*Vault, error) {
	v := &Vault{
		dir:      dir,
		path:     filepath.Join(dir, VaultFileName),
		keyPath:  filepath.Join(dir, VaultKeyFileName),
		lockPath: filepath.Join(dir, VaultLockFileName),

		journalPath: filepath.Join(dir, VaultJournalFileName),
		watcher:     fresh.Default(),
	}
	if err := ensurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	unlock, err := atomicfile.Lock(v.lockPath)
	if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	defer unlock()
	// A writer killed before its rename leaves a temporary file of the
	// vault or of the key file (written once, on creation).
	atomicfile.RemoveStaleTemps(v.path)
	atomicfile.RemoveStaleTemps(v.keyPath)
	atomicfile.RemoveStaleTemps(v.journalPath)
	raw, err := os.ReadFile(v.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = v.create(opts.Passphrase)
	case err == nil:
		err = v.load(raw, opts.Passphrase)
		if errors.Is(err, ErrPassphraseRequired) && opts.LockedWithoutPassphrase {
			err = v.openLocked(raw)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", v.path, err)
	}
	return v, nil
}

// ensurePrivateDir creates dir 0700, and tightens an existing one: the
// vault directory also holds the key file and the lock.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 && !isWindows {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// create writes a new empty vault. The caller holds the file lock.
func (v *Vault) create(pass secret.Value) error {
	var h header
	var key *[vaultKeySize]byte
	if pass.Len() > 0 {
		var err error
		if h, err = newPassphraseHeader(); err != nil {
			return err
		}
		key = deriveKey(pass, &h)
	} else {
		var err error
		h = header{mode: modeKeyFile}
		if key, err = loadOrCreateKeyFile(v.keyPath); err != nil {
			return err
		}
	}
	_, err := v.writeLocked(h, key, vaultData{})
	return err
}

// load decrypts raw and its journal with the key pass (or the key file)
// gives and makes them the current state. Nothing is written unless the
// key opened the snapshot. The caller holds the file lock.
func (v *Vault) load(raw []byte, pass secret.Value) error {
	h, err := parseHeader(raw)
	if err != nil {
		return err
	}
	key, err := v.keyFor(&h, pass)
	if err != nil {
		return err
	}
	data, st, j, err := v.readState(h, key, raw)
	if err != nil {
		clear(key[:])
		return err
	}
	v.forgetKey()
	v.hdr, v.key, v.data, v.disk, v.j = h, key, data, st, j
	if h.mode == modePassphrase {
		// A key file beside a passphrase vault is the leftover of a
		// ChangePassphrase interrupted after its durable write; it opens
		// only older copies of the vault, so it goes.
		_ = os.Remove(v.keyPath)
	}
	if !j.live && j.disk != nil {
		// Likewise a journal of an older snapshot: everything in it is in
		// the current one, and it may be sealed under a replaced key.
		if os.Remove(v.journalPath) == nil {
			v.j = journalState{}
		}
	}
	return nil
}

// readState decrypts the snapshot raw, whose header is h, with key and
// replays its journal: the vault as the disk holds it, and the files'
// identities. The caller holds the file lock.
func (v *Vault) readState(h header, key *[vaultKeySize]byte, raw []byte) (vaultData, os.FileInfo, journalState, error) {
	data, err := decrypt(key, raw)
	if err != nil {
		return nil, nil, journalState{}, err
	}
	st, err := os.Stat(v.path)
	if err != nil {
		return nil, nil, journalState{}, err
	}
	j, err := v.replayJournal(key, &h.nonce, data, journalState{})
	if err != nil {
		return nil, nil, journalState{}, err
	}
	return data, st, j, nil
}

// openLocked takes the header of a passphrase vault and stays locked: no
// key, no plaintext, until Unlock. The caller holds the file lock.
func (v *Vault) openLocked(raw []byte) error {
	h, err := parseHeader(raw)
	if err != nil {
		return err
	}
	v.hdr = h
	return nil
}

func (v *Vault) keyFor(h *header, pass secret.Value) (*[vaultKeySize]byte, error) {
	switch {
	case h.mode == modeKeyFile && pass.Len() > 0:
		return nil, errPassphraseNotUsed
	case h.mode == modeKeyFile:
		return readKeyFile(v.keyPath)
	case pass.Len() == 0:
		return nil, ErrPassphraseRequired
	default:
		return deriveKey(pass, h), nil
	}
}

func decrypt(key *[vaultKeySize]byte, raw []byte) (vaultData, error) {
	pt, err := open(key, raw)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return decodePayload(pt)
}

// writeLocked encrypts data under key with header h (fresh nonce) and
// replaces the vault file, a new snapshot, which makes the journal
// obsolete; the in-memory state becomes (h, key, data) only once the new
// file is in place, which renamed reports. The caller holds v.mu and the
// file lock.
func (v *Vault) writeLocked(h header, key *[vaultKeySize]byte, data vaultData) (renamed bool, err error) {
	pt := encodePayload(data)
	file, h, err := seal(key, h, pt)
	clear(pt)
	if err != nil {
		if key != v.key {
			clear(key[:])
		}
		return false, fmt.Errorf("encrypt vault: %w", err)
	}
	renamed, err = writeVaultFile(v.path, file, 0o600)
	if renamed {
		st, serr := os.Stat(v.path)
		if serr != nil {
			st = nil // forces a reload before the next use
		}
		if v.key != key {
			v.forgetKey()
		}
		v.hdr, v.key, v.data, v.disk = h, key, data, st
		// The old journal is of another generation now, ignored by every
		// reader. Replace it by an empty one (a new file, which tells
		// other processes' reads that something changed) only once the
		// snapshot is durable: should the rename be lost, the old snapshot
		// and its journal are the state.
		v.j = journalState{disk: statOrNil(v.journalPath)}
		if err == nil && v.startJournalLocked() != nil {
			_ = os.Remove(v.journalPath)
			v.j = journalState{disk: statOrNil(v.journalPath)}
		}
	} else if key != v.key {
		// A new key (create, ChangePassphrase) that never reached the
		// disk is of no further use; zero it rather than leave it to the
		// garbage collector.
		clear(key[:])
	}
	return renamed, err
}

// forgetKey zeroes the key (best effort: Go may have copied it) and drops
// the plaintext.
func (v *Vault) forgetKey() {
	if v.key != nil {
		clear(v.key[:])
	}
	v.key, v.data = nil, nil
}

// usable reports why the vault cannot serve a call, if it cannot.
func (v *Vault) usable() error {
	switch {
	case v.closed:
		return errVaultClosed
	case v.key == nil:
		return ErrLocked
	}
	return nil
}

// VaultProtection reports whether dir holds a vault and whether that vault
// is protected by a passphrase (else by its key file). It reads only the
// plaintext header, so the CLI can tell whether to ask for the current
// passphrase before it changes one.
func VaultProtection(dir string) (exists, passphrase bool, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, VaultFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("read vault: %w", err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return true, false, fmt.Errorf("read vault header: %w", err)
	}
	return true, h.mode == modePassphrase, nil
}
