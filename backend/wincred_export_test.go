package backend

import "testing"

// NewFakeWincredForTest returns a conformance harness for the Credential
// Manager store over one fake Credential Manager shared by every Open.
func NewFakeWincredForTest() (open func(t *testing.T) Store, plant func(t *testing.T, service, key string)) {
	f := newFakeCredManager()
	return func(*testing.T) Store { return newWincred(f) }, f.plant
}
