// Package backend is the storage side of keychain-auth: one Store interface
// and one implementation per secret store (the encrypted file vault, the
// Linux Secret Service, the macOS Keychain, the Windows Credential Manager).
//
// A Store knows nothing about callers or policy; the broker decides who may
// ask, a Store only keeps items. Items live in per-service namespaces and are
// addressed by key name. No error returned by a Store contains a secret value.
package backend

import (
	"errors"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Conditions callers branch on. Implementations wrap them with the operation
// (fmt.Errorf("get: %w", ErrNotFound)); test with errors.Is.
var (
	// ErrNotFound: the key does not exist in that service.
	ErrNotFound = errors.New("not found")
	// ErrLocked: the store exists but is locked (a locked keyring or vault).
	ErrLocked = errors.New("store is locked")
	// ErrUnavailable: the store cannot be reached or was not compiled in.
	ErrUnavailable = errors.New("store unavailable")
)

// Item is one stored secret.
type Item struct {
	Key        string
	Value      secret.Value
	Attributes map[string]string
}

// Info describes a store for logs and `status`.
type Info struct {
	// Name is the name used with --backend: "file", "secret-service",
	// "keychain", "wincred".
	Name string
	// AtRest says in one line what protects the data at rest.
	AtRest string
	// AtomicBatch reports whether Set and Delete of several items are applied
	// all-or-nothing by the store itself.
	AtomicBatch bool
	// Warning is a caveat the daemon should log and `status` should show
	// (for example a vault protected only by a key file); empty if none.
	Warning string
}

// Store keeps items in per-service namespaces. Implementations are safe for
// concurrent use.
type Store interface {
	// Info describes the store.
	Info() Info
	// Get returns one item with its value. A missing key is ErrNotFound.
	Get(service, key string) (Item, error)
	// List returns the items of service whose key starts with prefix
	// (every item when prefix is empty), sorted by key. Values are filled in
	// only when withValues is true. Items that belong to other applications
	// never appear.
	List(service, prefix string, withValues bool) ([]Item, error)
	// Set creates or overwrites items. When Info().AtomicBatch is false and a
	// write fails part way, the items already written are put back as they
	// were, as far as the store allows, and the error is returned.
	Set(service string, items []Item) error
	// Delete removes keys. Deleting a missing key is not an error.
	Delete(service string, keys []string) error
	// Close releases the store.
	Close() error
}
