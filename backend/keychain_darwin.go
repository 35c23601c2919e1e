//go:build darwin && cgo

package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keybase/go-keychain"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Keychain layout: one generic password per item in the user's default
// keychain, with service keychainServicePrefix + service and account = key.
// The description is keychainMarker on every item and every query, so items
// of other programs (even under a service that starts with our prefix) are
// never read or listed; the comment holds the item's attributes as JSON; the
// label is what Keychain Access shows and never holds the value.
const (
	keychainServicePrefix = "keychain-auth:"
	keychainMarker        = "keychain-auth item"
	// keychainTimeout bounds one Security framework call: a keychain that
	// wants to show a dialog must not hang the daemon.
	keychainTimeout = 60 * time.Second
)

// Keychain is the macOS Keychain store. It is not atomic across items: Set
// and Delete of several items put back what they changed when one fails.
type Keychain struct{ mu sync.Mutex }

var _ Store = (*Keychain)(nil)

// openKeychainStore checks that the default keychain answers a query
// without user interaction before handing out the store.
func openKeychainStore() (Store, error) {
	k := &Keychain{}
	_, err := k.query("", "keychain-auth-probe", false)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("keychain: %w", err)
	}
	return k, nil
}

// Info describes the store.
func (k *Keychain) Info() Info {
	return Info{Name: NameKeychain, AtRest: "macOS Keychain (the user's default keychain, encrypted with the login password)"}
}

// Close releases nothing: the Security framework holds no per-store state.
func (k *Keychain) Close() error { return nil }

func (k *Keychain) baseItem(service string) keychain.Item {
	it := keychain.NewItem()
	it.SetSecClass(keychain.SecClassGenericPassword)
	it.SetService(keychainServicePrefix + service)
	it.SetDescription(keychainMarker)
	return it
}

// keychainCall runs f with keychainTimeout and maps Security errors.
func keychainCall(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(keychainTimeout):
		return fmt.Errorf("keychain did not answer within %s (a dialog may be waiting): %w", keychainTimeout, ErrUnavailable)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keychain.ErrorItemNotFound):
		return ErrNotFound
	case errors.Is(err, keychain.ErrorInteractionNotAllowed):
		return fmt.Errorf("the keychain is locked (unlock it, for example by logging in): %w", ErrLocked)
	case errors.Is(err, keychain.ErrorNoSuchKeychain), errors.Is(err, keychain.ErrorNotAvailable):
		return fmt.Errorf("no default keychain: %w", ErrUnavailable)
	}
	return fmt.Errorf("keychain: %w", err)
}

// query returns the items of service (one when key is non-empty).
func (k *Keychain) query(service, key string, withData bool) ([]keychain.QueryResult, error) {
	q := k.baseItem(service)
	if key != "" {
		q.SetAccount(key)
		q.SetMatchLimit(keychain.MatchLimitOne)
		q.SetReturnData(withData)
	} else {
		q.SetMatchLimit(keychain.MatchLimitAll)
	}
	q.SetReturnAttributes(true)
	var res []keychain.QueryResult
	err := keychainCall(func() (err error) { res, err = keychain.QueryItem(q); return err })
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, ErrNotFound
	}
	return res, nil
}

func (k *Keychain) getOne(service, key string) (Item, error) {
	res, err := k.query(service, key, true)
	if err != nil {
		return Item{}, err
	}
	if res[0].Account != key || res[0].Service != keychainServicePrefix+service {
		return Item{}, ErrNotFound
	}
	return itemFromResult(res[0])
}

func itemFromResult(r keychain.QueryResult) (Item, error) {
	var attrs map[string]string
	if r.Comment != "" {
		if err := json.Unmarshal([]byte(r.Comment), &attrs); err != nil {
			return Item{}, fmt.Errorf("item %q: bad attributes: %w", r.Account, errDamaged)
		}
	}
	return Item{Key: r.Account, Value: secret.New(string(r.Data)), Attributes: attrs}, nil
}

func (k *Keychain) putOne(service string, it Item) error {
	attrs, err := json.Marshal(it.Attributes)
	if err != nil {
		return fmt.Errorf("encode attributes: %w", err)
	}
	data := []byte(it.Value.Reveal())
	upd := keychain.NewItem()
	upd.SetData(data)
	upd.SetComment(string(attrs))
	q := k.baseItem(service)
	q.SetAccount(it.Key)
	err = keychainCall(func() error { return keychain.UpdateItem(q, upd) })
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	add := k.baseItem(service)
	add.SetAccount(it.Key)
	add.SetLabel("keychain-auth: " + service + " / " + it.Key)
	add.SetData(data)
	add.SetComment(string(attrs))
	add.SetAccessible(keychain.AccessibleWhenUnlocked)
	return keychainCall(func() error { return keychain.AddItem(add) })
}

func (k *Keychain) deleteOne(service, key string) error {
	q := k.baseItem(service)
	q.SetAccount(key)
	err := keychainCall(func() error { return keychain.DeleteItem(q) })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Get returns one item with its value.
func (k *Keychain) Get(service, key string) (Item, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	it, err := k.getOne(service, key)
	if err != nil {
		return Item{}, fmt.Errorf("get: %w", err)
	}
	return it, nil
}

// List returns the items of service whose key starts with prefix.
func (k *Keychain) List(service, prefix string, withValues bool) ([]Item, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	res, err := k.query(service, "", false)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []Item
	for _, r := range res {
		if r.Service != keychainServicePrefix+service || !strings.HasPrefix(r.Account, prefix) {
			continue
		}
		// Values are fetched one by one: macOS refuses kSecReturnData
		// together with kSecMatchLimitAll on file-based keychains.
		get := itemFromResult
		if withValues {
			get = func(r keychain.QueryResult) (Item, error) { return k.getOne(service, r.Account) }
		}
		it, err := get(r)
		if errors.Is(err, ErrNotFound) || errors.Is(err, errDamaged) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Set writes items one by one, putting back earlier ones if one fails.
func (k *Keychain) Set(service string, items []Item) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return setBatch(k, service, items)
}

// Delete removes keys; missing keys are not an error.
func (k *Keychain) Delete(service string, keys []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return deleteBatch(k, service, keys)
}
