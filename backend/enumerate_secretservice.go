//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/godbus/dbus/v5"
)

var _ Enumerator = (*SecretService)(nil)

// Services searches the collection for keychain-auth's application
// attribute and collects the service attribute of each item found; an item
// without our full set of attributes is someone else's and is skipped.
func (s *SecretService) Services() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	var paths []dbus.ObjectPath
	q := map[string]string{attrApplication: appName}
	if err := s.bus.call(s.collection, ssCollection+".SearchItems", []any{q}, &paths); err != nil {
		return nil, fmt.Errorf("services: search: %w", err)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		var attrs map[string]string
		err := s.bus.getProperty(p, ssItem, "Attributes", &attrs)
		if errors.Is(err, errNoSuchObject) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
		svc, hasSvc := attrs[attrService]
		_, hasKey := attrs[attrKey]
		if attrs[attrApplication] == appName && hasSvc && hasKey {
			seen[svc] = true
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
