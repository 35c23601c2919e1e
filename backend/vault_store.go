package backend

import (
	"errors"
	"fmt"
	"os"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/secret"
)

// Info describes the vault; in key-file mode Warning says that the key file
// is all that protects it at rest.
func (v *Vault) Info() Info {
	v.mu.RLock()
	defer v.mu.RUnlock()
	info := Info{Name: "file", AtomicBatch: true}
	if v.hdr.mode == modePassphrase {
		info.AtRest = "encrypted file (XChaCha20-Poly1305, key from the passphrase via Argon2id)"
		return info
	}
	info.AtRest = "encrypted file (XChaCha20-Poly1305, random key in a 0600 key file beside it)"
	info.Warning = fmt.Sprintf("vault key is stored in %s: at rest the vault is protected only by that file's permissions; set a passphrase to protect it", v.keyPath)
	return info
}

// Get returns one item with its value. A missing key is ErrNotFound.
func (v *Vault) Get(service, key string) (Item, error) {
	d, err := v.current()
	if err != nil {
		return Item{}, fmt.Errorf("get: %w", err)
	}
	it, ok := d.get(service, key)
	if !ok {
		return Item{}, fmt.Errorf("get: %w", ErrNotFound)
	}
	return it, nil
}

// List returns the items of service whose key starts with prefix, sorted.
func (v *Vault) List(service, prefix string, withValues bool) ([]Item, error) {
	d, err := v.current()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return d.list(service, prefix, withValues), nil
}

// Set creates or overwrites items, all or none.
func (v *Vault) Set(service string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	return v.commit("set", func(d vaultData) (vaultData, bool) { return d.withSet(service, items), true })
}

// Delete removes keys, all or none; missing keys are ignored and a batch of
// only missing keys writes nothing.
func (v *Vault) Delete(service string, keys []string) error {
	return v.commit("delete", func(d vaultData) (vaultData, bool) { return d.withDelete(service, keys) })
}

// Close forgets the key and the plaintext; later calls fail.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forgetKey()
	v.closed = true
	return nil
}

// Lock forgets the key and the plaintext; every call then fails with
// ErrLocked until Unlock.
func (v *Vault) Lock() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return fmt.Errorf("lock: %w", errVaultClosed)
	}
	v.forgetKey()
	return nil
}

// Locked reports whether the vault is locked (or closed).
func (v *Vault) Locked() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.key == nil
}

// Unlock reads and decrypts the vault file again with passphrase (empty for
// a key-file vault). On any error the vault stays as it was: locked if it
// was locked, unlocked with its current key if not.
func (v *Vault) Unlock(passphrase secret.Value) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return fmt.Errorf("unlock: %w", errVaultClosed)
	}
	unlock, err := atomicfile.Lock(v.lockPath)
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	defer unlock()
	raw, err := os.ReadFile(v.path)
	if err == nil {
		err = v.load(raw, passphrase)
	}
	if err != nil {
		return fmt.Errorf("unlock vault %s: %w", v.path, err)
	}
	return nil
}

// ChangePassphrase re-encrypts the vault under a key from newPass with a new
// salt. A key-file vault becomes a passphrase vault; its key file is removed
// only after the new vault is durably written.
func (v *Vault) ChangePassphrase(newPass secret.Value) error {
	if newPass.Len() == 0 {
		return errors.New("change passphrase: the new passphrase is empty")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.withFileLock("change passphrase", func() error {
		h, err := newPassphraseHeader()
		if err != nil {
			return err
		}
		wasKeyFile := v.hdr.mode == modeKeyFile
		if err := v.writeLocked(h, deriveKey(newPass, &h), v.data); err != nil {
			return err
		}
		if wasKeyFile {
			if err := os.Remove(v.keyPath); err != nil {
				return fmt.Errorf("remove old key file: %w", err)
			}
			return atomicfile.SyncDir(v.dir)
		}
		return nil
	})
}

// commit applies a change: build the next state from the current one, write
// it, publish it. build reports false when there is nothing to write.
func (v *Vault) commit(op string, build func(vaultData) (vaultData, bool)) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.withFileLock(op, func() error {
		next, changed := build(v.data)
		if !changed {
			return nil
		}
		return v.writeLocked(v.hdr, v.key, next)
	})
}

// withFileLock runs fn on an unlocked, up-to-date vault while holding the
// file lock. The caller holds v.mu.
func (v *Vault) withFileLock(op string, fn func() error) error {
	if err := v.usable(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	unlock, err := atomicfile.Lock(v.lockPath)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer unlock()
	if err := v.refreshLocked(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// current returns the state to read from, reloading it first when another
// process replaced the file since this one last read or wrote it.
func (v *Vault) current() (vaultData, error) {
	v.mu.RLock()
	d, err, stale := v.data, v.usable(), v.stale()
	v.mu.RUnlock()
	if err != nil || !stale {
		return d, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	err = v.withFileLock("reload", func() error { return nil })
	return v.data, err
}

// stale reports whether the file on disk is not the one in memory. Every
// write renames a new file into place, so a different file identity is a
// change; size and time catch a rewrite in place by some other tool.
func (v *Vault) stale() bool {
	if v.disk == nil {
		return true
	}
	st, err := os.Stat(v.path)
	return err != nil || !os.SameFile(st, v.disk) || st.Size() != v.disk.Size() || !st.ModTime().Equal(v.disk.ModTime())
}

// refreshLocked reloads the file if another process changed it. A file
// re-keyed elsewhere (passwd) cannot be read with the key in memory: the
// vault locks itself and asks for the new passphrase. The caller holds v.mu
// and the file lock.
func (v *Vault) refreshLocked() error {
	if !v.stale() {
		return nil
	}
	raw, err := os.ReadFile(v.path)
	if err != nil {
		return fmt.Errorf("reload vault: %w", err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return fmt.Errorf("reload vault: %w", err)
	}
	if !sameKeyMaterial(&h, &v.hdr) {
		v.forgetKey()
		return fmt.Errorf("vault was re-keyed by another process; unlock it again: %w", ErrLocked)
	}
	data, err := decrypt(v.key, raw)
	if err != nil {
		return fmt.Errorf("reload vault: %w", err)
	}
	st, err := os.Stat(v.path)
	if err != nil {
		return fmt.Errorf("reload vault: %w", err)
	}
	v.hdr, v.data, v.disk = h, data, st
	return nil
}
