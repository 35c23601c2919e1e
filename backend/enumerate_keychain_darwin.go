//go:build darwin && cgo

package backend

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keybase/go-keychain"
)

var _ Enumerator = (*Keychain)(nil)

// Services queries every generic password carrying keychain-auth's
// description marker and takes the service name after our prefix.
func (k *Keychain) Services() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	q := keychain.NewItem()
	q.SetSecClass(keychain.SecClassGenericPassword)
	q.SetDescription(keychainMarker)
	q.SetMatchLimit(keychain.MatchLimitAll)
	q.SetReturnAttributes(true)
	var res []keychain.QueryResult
	err := keychainCall(func() (err error) { res, err = keychain.QueryItem(q); return err })
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	seen := map[string]bool{}
	for _, r := range res {
		if svc, ok := strings.CutPrefix(r.Service, keychainServicePrefix); ok && r.Description == keychainMarker {
			seen[svc] = true
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
