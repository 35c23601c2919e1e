//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Attributes that mark keychain-auth's items in a shared collection. Every
// item this store writes carries attrApplication=appName plus the service
// and key; every search includes them, so other applications' items (which
// a listing of the whole collection would show) never come back. User
// attributes are stored under attrUserPrefix so a caller's "service" or
// "application" attribute cannot overwrite the store's own.
const (
	attrApplication = "application"
	appName         = "keychain-auth"
	attrService     = "keychain-auth.service"
	attrKey         = "keychain-auth.key"
	attrUserPrefix  = "keychain-auth.attr."
)

// SecretService is the Linux (freedesktop.org) Secret Service store:
// gnome-keyring, KeePassXC and others. It uses the collection the "default"
// alias points to, over a private connection to the session bus opened when
// the store is opened.
//
// It is not atomic across items: Set and Delete of several items put back
// what they changed when one fails (see setBatch). It never unlocks a locked
// collection; a locked one is ErrLocked.
type SecretService struct {
	mu         sync.Mutex
	bus        *ssBus
	sess       *ssSession
	collection dbus.ObjectPath
}

var _ Store = (*SecretService)(nil)

// openSecretServiceStore is Open's way in (see openSecretService).
func openSecretServiceStore(address string, autoStart bool) (Store, error) {
	s, err := openSecretService(address, autoStart)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openSecretService connects to the Secret Service on the session bus at
// address (DBUS_SESSION_BUS_ADDRESS), opens an encrypted session and checks
// that the default collection exists and is unlocked. autoStart lets the
// bus activate a provider that is not running yet.
func openSecretService(address string, autoStart bool) (*SecretService, error) {
	bus, err := dialSessionBus(address, autoStart)
	if err != nil {
		return nil, fmt.Errorf("open secret service: %w", err)
	}
	s := &SecretService{bus: bus}
	if err := s.init(); err != nil {
		_ = bus.close()
		return nil, fmt.Errorf("open secret service: %w", err)
	}
	return s, nil
}

func (s *SecretService) init() error {
	var coll dbus.ObjectPath
	if err := s.bus.call(ssPath, ssService+".ReadAlias", []any{"default"}, &coll); err != nil {
		return fmt.Errorf("read default alias: %w", err)
	}
	if coll == ssNoPrompt || coll == "" {
		return fmt.Errorf("no default collection (create or set one with the keyring's tool): %w", ErrUnavailable)
	}
	s.collection = coll
	if err := s.checkUnlocked(); err != nil {
		return err
	}
	sess, err := openSession(s.bus)
	if err != nil {
		return err
	}
	s.sess = sess
	return nil
}

// checkUnlocked is asked before each operation: a locked collection can
// still answer searches, and must read as locked, never as empty.
func (s *SecretService) checkUnlocked() error {
	var locked bool
	if err := s.bus.getProperty(s.collection, ssCollection, "Locked", &locked); err != nil {
		return fmt.Errorf("read collection state: %w", err)
	}
	if locked {
		return fmt.Errorf("the default secret service collection %s is locked; unlock it (log in to the desktop session or use the keyring's unlock tool): %w", s.collection, ErrLocked)
	}
	return nil
}

// Info describes the store.
func (s *SecretService) Info() Info {
	inf := Info{
		Name:   NameSecretService,
		AtRest: "Secret Service collection " + string(s.collection) + " (encrypted by the keyring provider with the user's keyring password)",
	}
	if s.sess != nil && !s.sess.encrypted() {
		inf.Warning = "the secret service provider refused transfer encryption; values cross the session bus in plain"
	}
	return inf
}

// Close ends the transfer session and the bus connection.
func (s *SecretService) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bus == nil {
		return nil
	}
	if s.sess != nil {
		_ = s.bus.call(s.sess.path, "org.freedesktop.Secret.Session.Close", nil)
	}
	err := s.bus.close()
	s.bus = nil
	return err
}

// Get returns one item with its value.
func (s *SecretService) Get(service, key string) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return Item{}, fmt.Errorf("get: %w", err)
	}
	it, err := s.getOne(service, key)
	if err != nil {
		return Item{}, fmt.Errorf("get: %w", err)
	}
	return it, nil
}

// List returns the items of service whose key starts with prefix.
func (s *SecretService) List(service, prefix string, withValues bool) ([]Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	items, err := s.list(service, prefix, withValues)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return items, nil
}

// Set writes items one by one, putting back earlier ones if one fails.
func (s *SecretService) Set(service string, items []Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return setBatch(s, service, items)
}

// Delete removes keys; missing keys are not an error.
func (s *SecretService) Delete(service string, keys []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return deleteBatch(s, service, keys)
}

func (s *SecretService) ready() error {
	if s.bus == nil {
		return fmt.Errorf("secret service store is closed: %w", ErrUnavailable)
	}
	return s.checkUnlocked()
}

// search returns the paths of keychain-auth's items in service, narrowed
// to one key when key is non-nil.
func (s *SecretService) search(service string, key *string) ([]dbus.ObjectPath, error) {
	q := map[string]string{attrApplication: appName, attrService: service}
	if key != nil {
		q[attrKey] = *key
	}
	var paths []dbus.ObjectPath
	if err := s.bus.call(s.collection, ssCollection+".SearchItems", []any{q}, &paths); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return paths, nil
}

// attributes reads an item's attributes and checks that it is ours and in
// service (the provider matched on them, but a listing must never rely on
// one check alone to keep foreign items out).
func (s *SecretService) attributes(p dbus.ObjectPath, service string) (map[string]string, bool, error) {
	var attrs map[string]string
	if err := s.bus.getProperty(p, ssItem, "Attributes", &attrs); err != nil {
		return nil, false, err
	}
	ours := attrs[attrApplication] == appName && attrs[attrService] == service
	_, hasKey := attrs[attrKey]
	return attrs, ours && hasKey, nil
}

func (s *SecretService) getOne(service, key string) (Item, error) {
	paths, err := s.search(service, &key)
	if err != nil {
		return Item{}, err
	}
	for _, p := range paths {
		attrs, ours, err := s.attributes(p, service)
		if errors.Is(err, errNoSuchObject) || (err == nil && (!ours || attrs[attrKey] != key)) {
			continue
		}
		if err != nil {
			return Item{}, err
		}
		v, err := s.secret(p)
		if errors.Is(err, errNoSuchObject) {
			continue
		}
		if err != nil {
			return Item{}, fmt.Errorf("read %q: %w", key, err)
		}
		return Item{Key: key, Value: v, Attributes: userAttributes(attrs)}, nil
	}
	return Item{}, ErrNotFound
}

func (s *SecretService) secret(p dbus.ObjectPath) (secret.Value, error) {
	var sec ssSecret
	if err := s.bus.call(p, ssItem+".GetSecret", []any{s.sess.path}, &sec); err != nil {
		return "", err
	}
	b, err := s.sess.open(sec)
	if err != nil {
		return "", err
	}
	return secret.New(string(b)), nil
}

func (s *SecretService) list(service, prefix string, withValues bool) ([]Item, error) {
	paths, err := s.search(service, nil)
	if err != nil {
		return nil, err
	}
	byKey := map[string]Item{}
	for _, p := range paths {
		attrs, ours, err := s.attributes(p, service)
		if errors.Is(err, errNoSuchObject) || (err == nil && !ours) {
			continue
		}
		if err != nil {
			return nil, err
		}
		key := attrs[attrKey]
		if _, dup := byKey[key]; dup || !strings.HasPrefix(key, prefix) {
			continue
		}
		it := Item{Key: key, Attributes: userAttributes(attrs)}
		if withValues {
			if it.Value, err = s.secret(p); errors.Is(err, errNoSuchObject) {
				continue
			} else if err != nil {
				return nil, fmt.Errorf("read %q: %w", key, err)
			}
		}
		byKey[key] = it
	}
	out := make([]Item, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out, nil
}

// putOne updates the existing item in place (value first, then attributes)
// so the key never reads as missing, or creates it.
func (s *SecretService) putOne(service string, it Item) error {
	sec, err := s.sess.seal([]byte(it.Value.Reveal()))
	if err != nil {
		return err
	}
	attrs := storedAttributes(service, it)
	paths, err := s.search(service, &it.Key)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return s.create(service, it.Key, attrs, sec)
	}
	if err := s.bus.call(paths[0], ssItem+".SetSecret", []any{sec}); err != nil {
		return fmt.Errorf("write secret: %w", err)
	}
	if err := s.bus.setProperty(paths[0], ssItem, "Attributes", attrs); err != nil {
		return fmt.Errorf("write attributes: %w", err)
	}
	// Duplicates can only come from another writer; keep exactly one.
	for _, p := range paths[1:] {
		if err := s.deletePath(p); err != nil {
			return err
		}
	}
	return nil
}

func (s *SecretService) create(service, key string, attrs map[string]string, sec ssSecret) error {
	props := map[string]dbus.Variant{
		ssItem + ".Label":      dbus.MakeVariant(itemLabel(service, key)),
		ssItem + ".Attributes": dbus.MakeVariant(attrs),
	}
	var item, prompt dbus.ObjectPath
	if err := s.bus.call(s.collection, ssCollection+".CreateItem", []any{props, sec, true}, &item, &prompt); err != nil {
		return fmt.Errorf("create item: %w", err)
	}
	return s.bus.prompt(prompt)
}

func (s *SecretService) deleteOne(service, key string) error {
	paths, err := s.search(service, &key)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := s.deletePath(p); err != nil {
			return err
		}
	}
	return nil
}

func (s *SecretService) deletePath(p dbus.ObjectPath) error {
	var prompt dbus.ObjectPath
	err := s.bus.call(p, ssItem+".Delete", nil, &prompt)
	if errors.Is(err, errNoSuchObject) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete item: %w", err)
	}
	return s.bus.prompt(prompt)
}

// itemLabel is what keyring managers show; never the value.
func itemLabel(service, key string) string {
	return "keychain-auth: " + service + " / " + key
}

func storedAttributes(service string, it Item) map[string]string {
	m := make(map[string]string, len(it.Attributes)+3)
	for k, v := range it.Attributes {
		m[attrUserPrefix+k] = v
	}
	m[attrApplication] = appName
	m[attrService] = service
	m[attrKey] = it.Key
	return m
}

func userAttributes(stored map[string]string) map[string]string {
	var m map[string]string
	for k, v := range stored {
		if name, ok := strings.CutPrefix(k, attrUserPrefix); ok {
			if m == nil {
				m = map[string]string{}
			}
			m[name] = v
		}
	}
	return m
}
