package backend

import (
	"maps"
	"slices"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// Enumerator is a store that can list the services it holds items in, so
// that `keychain-auth migrate` can copy a whole store. It is optional: the
// daemon never needs it. Services returns each service once, sorted, and
// only services of items keychain-auth wrote (never another application's
// items in a shared keyring).
type Enumerator interface {
	Services() ([]string, error)
}

var _ Enumerator = (*Vault)(nil)

// Services lists the vault's services that hold at least one item.
func (v *Vault) Services() ([]string, error) {
	var out []string
	err := v.read(fresh.Stamp{}, func(d vaultData) {
		for _, name := range slices.Sorted(maps.Keys(d)) {
			if sd := d[name]; sd != nil && len(sd.keys) > 0 {
				out = append(out, name)
			}
		}
	})
	return out, err
}
