package storetest_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
	"github.com/keychain-auth/keychain-auth/secret"
)

// Deliberately broken stores: each wraps the memory double with one defect
// the suite must catch. They exist to prove the suite can fail.
type broken struct {
	*backend.MemoryDouble
	defect string
}

func (b broken) Get(service, key string) (backend.Item, error) {
	it, err := b.MemoryDouble.Get(service, key)
	switch {
	case b.defect == "missing-not-ErrNotFound" && err != nil:
		return it, fmt.Errorf("get: no such item")
	case b.defect == "corrupt-value" && err == nil && it.Value.Len() > 0:
		v := []byte(it.Value.Reveal())
		v[len(v)-1] ^= 1
		it.Value = secret.New(string(v))
	}
	return it, err
}

func (b broken) List(service, prefix string, withValues bool) ([]backend.Item, error) {
	switch b.defect {
	case "ignores-prefix":
		prefix = ""
	case "always-values":
		withValues = true
	}
	return b.MemoryDouble.List(service, prefix, withValues)
}

// Set of the "drops-batch-tail" store writes only the first item of a batch.
func (b broken) Set(service string, items []backend.Item) error {
	if b.defect == "drops-batch-tail" && len(items) > 1 {
		items = items[:1]
	}
	return b.MemoryDouble.Set(service, items)
}

func (b broken) Delete(service string, keys []string) error {
	if b.defect == "delete-missing-errors" {
		for _, k := range keys {
			if _, err := b.MemoryDouble.Get(service, k); err != nil {
				return fmt.Errorf("delete: %q not found", k)
			}
		}
	}
	return b.MemoryDouble.Delete(service, keys)
}

const canaryEnv = "KEYCHAIN_AUTH_TEST_STORETEST_DEFECT"

// TestBrokenStoreChild runs the suite against one broken store; it is the
// child process of TestSuiteCatchesDefects.
func TestBrokenStoreChild(t *testing.T) {
	defect := os.Getenv(canaryEnv)
	if defect == "" {
		t.Skip("helper process for TestSuiteCatchesDefects; runs only when that test starts it")
	}
	storetest.Run(t, storetest.Harness{Open: func(*testing.T) backend.Store {
		return broken{backend.NewMemoryDouble(), defect}
	}})
}

func TestSuiteCatchesDefects(t *testing.T) {
	cases := map[string]string{
		"missing-not-ErrNotFound": "MissingKey",
		"corrupt-value":           "SetGet",
		"ignores-prefix":          "ListPrefix",
		"always-values":           "ListValues",
		"drops-batch-tail":        "Batch",
		"delete-missing-errors":   "DeleteMissing",
	}
	for defect, subtest := range cases {
		t.Run(defect, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStoreChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), canaryEnv+"="+defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with defect %q", defect)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenStoreChild/"+subtest+" ") {
				t.Errorf("defect %q: subtest %s did not fail; output:\n%s", defect, subtest, out)
			}
			if strings.Contains(string(out), "storetest-secret-") {
				t.Errorf("defect %q: a failure message printed a secret value", defect)
			}
		})
	}
}

func TestSuitePassesMemoryDouble(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: func(*testing.T) backend.Store { return backend.NewMemoryDouble() }})
}
