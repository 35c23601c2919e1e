package backend

import (
	"errors"
	"fmt"
	"os"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/internal/fresh"
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
func (v *Vault) Get(service, key string) (Item, error) { return v.get(fresh.Stamp{}, service, key) }

func (v *Vault) get(now fresh.Stamp, service, key string) (Item, error) {
	var it Item
	var ok bool
	if err := v.read(now, func(d vaultData) { it, ok = d.get(service, key) }); err != nil {
		return Item{}, fmt.Errorf("get: %w", err)
	}
	if !ok {
		return Item{}, fmt.Errorf("get: %w", ErrNotFound)
	}
	return it, nil
}

// List returns the items of service whose key starts with prefix, sorted.
func (v *Vault) List(service, prefix string, withValues bool) ([]Item, error) {
	return v.list(fresh.Stamp{}, service, prefix, withValues)
}

func (v *Vault) list(now fresh.Stamp, service, prefix string, withValues bool) ([]Item, error) {
	var items []Item
	if err := v.read(now, func(d vaultData) { items = d.list(service, prefix, withValues) }); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return items, nil
}

// Set creates or overwrites items, all or none.
func (v *Vault) Set(service string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	return v.commit("set", &vaultChange{service: service, items: items})
}

// Delete removes keys, all or none; missing keys are ignored and a batch of
// only missing keys writes nothing.
func (v *Vault) Delete(service string, keys []string) error {
	return v.commit("delete", &vaultChange{del: true, service: service, keys: keys})
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
		// The new snapshot holds the journal's records too (the vault was
		// brought up to date under the lock) and replaces the journal, so
		// nothing stays sealed under the old key but what the file system
		// has not reused yet.
		if _, err := v.writeLocked(h, deriveKey(newPass, &h), v.data); err != nil {
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

// commit writes a change and then applies it in memory: as one journal
// record, or, when the journal is due for compaction or the snapshot is
// still version 1, as a new snapshot.
func (v *Vault) commit(op string, c *vaultChange) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.withFileLock(op, func() error {
		if !c.changes(v.data) {
			return nil
		}
		pt := encodeChange(c)
		defer clear(pt)
		if !v.shouldSnapshot(len(pt)) {
			return v.appendLocked(c, pt)
		}
		undo := v.data.apply(c)
		renamed, err := v.writeLocked(v.hdr, v.key, v.data)
		if !renamed {
			undo()
		}
		return err
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

// read runs fn on the current state under the read lock, reloading it
// first when another process changed the files since this one last read or
// wrote them (now, when known, may spare the stat that tells:
// vault_fresh.go). The state is changed in place by writers, so fn must not
// keep references into it.
func (v *Vault) read(now fresh.Stamp, fn func(vaultData)) error {
	v.mu.RLock()
	err, stale := v.usable(), v.readStale(now)
	if err == nil && !stale {
		fn(v.data)
	}
	v.mu.RUnlock()
	if err != nil || !stale {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.withFileLock("reload", func() error { fn(v.data); return nil })
}

// stale reports whether the files on disk are not the ones in memory.
// Every snapshot write renames a new file into place, so a different file
// identity is a change; size and time catch a journal append and a
// rewrite in place by some other tool.
func (v *Vault) stale() bool {
	return v.snapshotStale() || v.journalStale()
}

// readStale is stale for reads, with one stat instead of two once the
// vault has a journal: every write of this format changes the journal (an
// append grows it; a new snapshot comes with a new, empty journal file),
// so an unchanged journal means that nothing keychain-auth writes has
// changed, and reads go on from memory, which holds what was read and
// authenticated. A snapshot replaced by something else (a planted file) is
// noticed by the next write, which checks both files under the lock, and
// from then on by every read.
func (v *Vault) readStale(now fresh.Stamp) bool {
	if v.disk == nil || v.j.disk == nil {
		return v.stale()
	}
	if v.jw.covers(v.j.disk, now) {
		return false
	}
	if v.journalStale() {
		return true
	}
	v.jw.seen(v, now)
	return false
}

func (v *Vault) snapshotStale() bool {
	if v.disk == nil {
		return true
	}
	st, err := os.Stat(v.path)
	return err != nil || !os.SameFile(st, v.disk) || st.Size() != v.disk.Size() || !st.ModTime().Equal(v.disk.ModTime())
}

// refreshLocked brings memory up to date with the disk: only the new
// journal records when the snapshot is the same and the journal grew,
// else the whole vault again. A file re-keyed elsewhere (passwd) cannot be
// read with the key in memory: the vault locks itself and asks for the new
// passphrase. The caller holds v.mu and the file lock.
func (v *Vault) refreshLocked() error {
	if !v.snapshotStale() && v.journalContinues() {
		if !v.journalStale() {
			return nil
		}
		j, err := v.replayJournal(v.key, &v.hdr.nonce, v.data, v.j)
		v.j = j
		if err != nil {
			return fmt.Errorf("reload vault: %w", err)
		}
		return nil
	}
	// Until this reload succeeds, reads check both files and come here.
	v.disk = nil
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
	data, st, j, err := v.readState(h, v.key, raw)
	if err != nil {
		return fmt.Errorf("reload vault: %w", err)
	}
	v.hdr, v.data, v.disk, v.j = h, data, st, j
	return nil
}
