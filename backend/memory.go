package backend

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// MemoryDouble is an in-memory Store for tests of the packages above the
// backend (the broker, the CLI). It is a test double: the product never
// selects it, it keeps nothing across restarts and protects nothing at rest.
type MemoryDouble struct {
	mu       sync.Mutex
	services map[string]map[string]Item
}

// NewMemoryDouble returns an empty in-memory test double. Never use it as
// the product's store.
func NewMemoryDouble() *MemoryDouble {
	return &MemoryDouble{services: map[string]map[string]Item{}}
}

var _ Store = (*MemoryDouble)(nil)

// Info describes the double honestly, so a double that leaked into a real
// daemon would say so in `status`.
func (m *MemoryDouble) Info() Info {
	return Info{
		Name:        "memory-test-double",
		AtRest:      "nothing: kept in process memory only, lost on exit",
		AtomicBatch: true,
		Warning:     "in-memory test double: not for real use",
	}
}

// Get returns one item. A missing key is ErrNotFound.
func (m *MemoryDouble) Get(service, key string) (Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.services[service][key]
	if !ok {
		return Item{}, fmt.Errorf("get: %w", ErrNotFound)
	}
	return cloneItem(it, true), nil
}

// List returns the items of service whose key starts with prefix, sorted.
func (m *MemoryDouble) List(service, prefix string, withValues bool) ([]Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Item
	for k, it := range m.services[service] {
		if strings.HasPrefix(k, prefix) {
			out = append(out, cloneItem(it, withValues))
		}
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Set creates or overwrites items, all at once.
func (m *MemoryDouble) Set(service string, items []Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	ns := m.services[service]
	if ns == nil {
		ns = map[string]Item{}
		m.services[service] = ns
	}
	for _, it := range items {
		ns[it.Key] = cloneItem(it, true)
	}
	return nil
}

// Delete removes keys; missing keys are ignored.
func (m *MemoryDouble) Delete(service string, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns := m.services[service]
	for _, k := range keys {
		delete(ns, k)
	}
	if ns != nil && len(ns) == 0 {
		delete(m.services, service)
	}
	return nil
}

// Close does nothing; the double stays usable so tests can inspect it.
func (m *MemoryDouble) Close() error { return nil }

// cloneItem copies an item so that callers never share a map with the store.
func cloneItem(it Item, withValue bool) Item {
	out := Item{Key: it.Key, Attributes: maps.Clone(it.Attributes)}
	if withValue {
		out.Value = it.Value
	}
	return out
}
