package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestWindowsReadWhileReplaced: a reader of a file that WriteFile keeps
// replacing never fails through Open. Canary: plain os.Open on the same
// file meets the sharing violation (or pending delete) that Open waits out.
// Runs under Wine (which enforces sharing modes) and natively.
func TestWindowsReadWhileReplaced(t *testing.T) {
	dir, err := os.MkdirTemp("", "kca-atomic-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	t.Cleanup(func() { // not os.RemoveAll: it fails under Wine with Go 1.25+
		RemoveStaleTemps(path)
		os.Remove(path)
		os.Remove(dir)
	})
	if _, err := WriteFile(path, []byte("v0"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 1; !stop.Load() && err == nil; i++ {
			_, err = WriteFile(path, []byte(fmt.Sprintf("v%d", i)), 0o600)
		}
		done <- err
	}()
	defer func() {
		stop.Store(true)
		if err := <-done; err != nil {
			t.Errorf("writer: %v", err)
		}
	}()

	weak := func(p string) ([]byte, error) { return os.ReadFile(p) }
	n, err := readFor(path, 5*time.Second, weak, true)
	if n == 0 {
		t.Fatal("canary: plain os.ReadFile never failed while the file was replaced in 5 s; the test cannot tell Open from it")
	}
	t.Logf("canary: plain os.ReadFile failed: %v", err)
	if n, err := readFor(path, time.Second, ReadFile, false); n != 0 {
		t.Fatalf("ReadFile failed %d times while the file was replaced; first: %v", n, err)
	}
}

// readFor reads path with read until d passes (or, with untilFail, until
// the first failure) and returns how many reads failed and the first error.
func readFor(path string, d time.Duration, read func(string) ([]byte, error), untilFail bool) (int, error) {
	failed, first := 0, error(nil)
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := read(path); err != nil {
			if failed++; first == nil {
				first = err
			}
			if untilFail {
				break
			}
		}
		// A pause lets the writer's rename through: a reader that never
		// closes the file would starve it (its retries end in access denied).
		time.Sleep(time.Millisecond)
	}
	return failed, first
}
