package backend

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeCredManager behaves like the Credential Manager where the store
// depends on it: target names compare case-insensitively, a blob over 2,560
// bytes is refused, enumeration takes a prefix. Hooks inject failures.
type fakeCredManager struct {
	mu    sync.Mutex
	creds map[string]fakeCred // by upper-cased target
	// failWrite, when set, fails a write for which it returns true.
	failWrite func(target string) bool
	// afterWrite, when set, runs after each successful write (unlocked).
	afterWrite func(target string)
}

type fakeCred struct {
	target string
	blob   []byte
}

func newFakeCredManager() *fakeCredManager {
	return &fakeCredManager{creds: map[string]fakeCred{}}
}

var errFakeWrite = errors.New("injected credential write failure")

func (f *fakeCredManager) read(target string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.creds[strings.ToUpper(target)]
	if !ok {
		return nil, errCredNotFound
	}
	return slices.Clone(c.blob), nil
}

func (f *fakeCredManager) write(target string, blob []byte) error {
	if len(blob) > credBlobMax {
		return fmt.Errorf("blob of %d bytes: the parameter is incorrect", len(blob))
	}
	if f.failWrite != nil && f.failWrite(target) {
		return errFakeWrite
	}
	f.mu.Lock()
	f.creds[strings.ToUpper(target)] = fakeCred{target: target, blob: slices.Clone(blob)}
	f.mu.Unlock()
	if f.afterWrite != nil {
		f.afterWrite(target)
	}
	return nil
}

func (f *fakeCredManager) remove(target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := strings.ToUpper(target)
	if _, ok := f.creds[k]; !ok {
		return errCredNotFound
	}
	delete(f.creds, k)
	return nil
}

func (f *fakeCredManager) list(prefix string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, c := range f.creds {
		if strings.HasPrefix(k, strings.ToUpper(prefix)) {
			out = append(out, c.target)
		}
	}
	return out, nil
}

func (f *fakeCredManager) count(prefix string) int {
	l, _ := f.list(prefix)
	return len(l)
}

// plant writes other applications' credentials that a careless listing of
// service would pick up.
func (f *fakeCredManager) plant(t *testing.T, service, key string) {
	targets := map[string][]byte{
		"git:https://" + service + "/" + key:                                      []byte("foreign"),
		credPrefix + credEscape(service) + ":" + credEscape(key+"-foreign"):       []byte("not a manifest"),
		strings.ToUpper(credPrefix) + credEscape(service) + ":" + credEscape(key): []byte("{}\n"),
		credPrefix + service + ":" + key:                                          []byte("raw names"),
	}
	for target, blob := range targets {
		if err := f.write(target, blob); err != nil {
			t.Fatal(err)
		}
	}
}
