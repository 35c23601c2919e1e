package backend

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

var _ Enumerator = (*Wincred)(nil)

// Services lists the targets under keychain-auth's prefix and keeps the
// services of those that carry our manifest. The separator never appears
// raw inside an escaped name, and part credentials have their own prefix.
func (w *Wincred) Services() ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	targets, err := w.api.list(credPrefix)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	seen := map[string]bool{}
	for _, t := range targets {
		svc, key, ok := splitCredTarget(t)
		if !ok || seen[svc] {
			continue
		}
		_, _, err := w.readManifest(svc, key)
		switch {
		case err == nil:
			seen[svc] = true
		case errors.Is(err, ErrNotFound):
		default:
			return nil, fmt.Errorf("services: %w", err)
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// splitCredTarget takes a target written by credTarget apart.
func splitCredTarget(t string) (service, key string, ok bool) {
	rest, ok := strings.CutPrefix(t, credPrefix) // exact case: ours are written so
	escSvc, escKey, found := strings.Cut(rest, ":")
	if !ok || !found {
		return "", "", false
	}
	service, err1 := credUnescape(escSvc)
	key, err2 := credUnescape(escKey)
	return service, key, err1 == nil && err2 == nil
}
