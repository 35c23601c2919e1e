//go:build windows

package backend

import (
	"errors"
	"fmt"
	"strings"

	"github.com/danieljoos/wincred"
)

// winCredAPI binds credAPI to CredReadW, CredWriteW, CredDeleteW and
// CredEnumerateW (generic credentials, persisted on the local machine, not
// roamed).
type winCredAPI struct{}

func (winCredAPI) read(target string) ([]byte, error) {
	c, err := wincred.GetGenericCredential(target)
	if errors.Is(err, wincred.ErrElementNotFound) {
		return nil, errCredNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read credential: %w", err)
	}
	return c.CredentialBlob, nil
}

func (winCredAPI) write(target string, blob []byte) error {
	c := wincred.NewGenericCredential(target)
	c.CredentialBlob = blob
	c.Comment = credComment
	c.Persist = wincred.PersistLocalMachine
	if err := c.Write(); err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	return nil
}

func (winCredAPI) remove(target string) error {
	err := wincred.NewGenericCredential(target).Delete()
	if errors.Is(err, wincred.ErrElementNotFound) {
		return errCredNotFound
	}
	if err != nil {
		return fmt.Errorf("delete credential: %w", err)
	}
	return nil
}

func (winCredAPI) list(prefix string) ([]string, error) {
	creds, err := wincred.FilteredList(prefix + "*")
	if err != nil {
		return nil, fmt.Errorf("enumerate credentials: %w", err)
	}
	var out []string
	for _, c := range creds {
		if strings.HasPrefix(c.TargetName, prefix) {
			out = append(out, c.TargetName)
		}
	}
	return out, nil
}

// openWincredStore checks that the Credential Manager answers (it does not
// in some service and network logon sessions) before handing out the store.
func openWincredStore() (Store, error) {
	if _, err := (winCredAPI{}).list(credPrefix); err != nil {
		return nil, fmt.Errorf("credential manager: %v: %w", err, ErrUnavailable)
	}
	return newWincred(winCredAPI{}), nil
}
