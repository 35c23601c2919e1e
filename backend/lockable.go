package backend

import "github.com/keychain-auth/keychain-auth/secret"

// Lockable is a store that can drop its key and plaintext on request and
// take them back with a passphrase: the file vault. The vault lifecycle
// commands and the daemon use it through a type assertion on a Store.
type Lockable interface {
	// Lock forgets the key and the decrypted items; until Unlock, every
	// Store method returns an error wrapping ErrLocked. Locking a locked
	// store is not an error.
	Lock() error
	// Unlock reads the store again with passphrase (empty for a store
	// protected by a key file). A wrong passphrase is an error wrapping
	// ErrBadPassphrase and leaves the store as it was.
	Unlock(passphrase secret.Value) error
	// Locked reports whether the store is locked.
	Locked() bool
}

var _ Lockable = (*Vault)(nil)
