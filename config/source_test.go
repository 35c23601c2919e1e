package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

func oneEntry(path string, read ...string) string {
	q := make([]string, len(read))
	for i, s := range read {
		q[i] = `"` + s + `"`
	}
	return `{"protocol_version":"1","registered_binaries":[{"path":` + js(path) + `,"hash":"` + testHash('a') +
		`","allowed_read_services":[` + strings.Join(q, ",") + `]}]}`
}

// noRacyWindow trusts stat keys at once, so tests can see caching.
func noRacyWindow(t *testing.T) {
	old := racyWindow
	racyWindow = 0
	t.Cleanup(func() { racyWindow = old })
}

func TestSourceMissingFileIsEmpty(t *testing.T) {
	s := NewSource(filepath.Join(t.TempDir(), ConfigFile))
	cfg, err := s.Current()
	if err != nil || len(cfg.RegisteredBinaries) != 0 {
		t.Fatalf("Current() = %+v, %v; want an empty config", cfg, err)
	}
}

func TestSourceCachesAndReloads(t *testing.T) {
	noRacyWindow(t)
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, oneEntry(fx("/usr/bin/a"), "svc"))
	s := NewSource(path)
	first, err := s.Current()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Current()
	if again != first {
		t.Fatal("unchanged file was reloaded")
	}
	// A revoke through Update is seen by the very next call.
	err = Update(path, func(c *Config) error {
		c.RegisteredBinaries[0].RevokeRead("svc")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Current()
	if err != nil || cfg == first || cfg.RegisteredBinaries[0].CanRead("svc") {
		t.Fatalf("after revoke: %+v, %v", cfg, err)
	}
	// Deleting the file empties the policy.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if cfg, err := s.Current(); err != nil || len(cfg.RegisteredBinaries) != 0 {
		t.Fatalf("after delete: %+v, %v", cfg, err)
	}
}

// TestSourceSeesInPlaceRewrite rewrites the file in place (same inode,
// same size) straight after a load, as an editor that writes in place
// would; the coarse file-system clock may leave every stamp unchanged,
// and the racy-window rule must still catch it.
func TestSourceSeesInPlaceRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, oneEntry(fx("/usr/bin/a"), "aaa"))
	s := NewSource(path)
	for _, svc := range []string{"bbb", "ccc", "ddd"} {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte(oneEntry(fx("/usr/bin/a"), svc)), 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		cfg, err := s.Current()
		if err != nil || !cfg.RegisteredBinaries[0].CanRead(svc) {
			t.Fatalf("after in-place rewrite to %s: %+v, %v", svc, cfg, err)
		}
	}
}

func TestSourceBrokenFileDeniesAll(t *testing.T) {
	noRacyWindow(t)
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, oneEntry(fx("/usr/bin/a"), "svc"))
	s := NewSource(path)
	if _, err := s.Current(); err != nil {
		t.Fatal(err)
	}
	// A hand edit that revokes "svc" but breaks the syntax.
	writeFile(t, path, `{"protocol_version":"1","registered_binaries":[{"path":"/usr/bin/a",]}`)
	cfg, err := s.Current()
	if cfg != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "invalid character") {
		t.Fatalf("first call on broken file: %+v, %v; want nil and the parse error", cfg, err)
	}
	cfg, err = s.Current()
	if cfg != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "still invalid") {
		t.Fatalf("second call on broken file: %+v, %v; want nil and a short error", cfg, err)
	}
	writeFile(t, path, oneEntry(fx("/usr/bin/a")))
	cfg, err = s.Current()
	if err != nil || cfg.RegisteredBinaries[0].CanRead("svc") {
		t.Fatalf("after fix: %+v, %v", cfg, err)
	}
	// Invalid (not just unparsable) counts the same.
	writeFile(t, path, oneEntry("relative/path", "svc"))
	if cfg, err := s.Current(); cfg != nil || !strings.Contains(err.Error(), "registered_binaries[0].path") {
		t.Fatalf("invalid entry: %+v, %v", cfg, err)
	}
}

func TestSourceConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, oneEntry(fx("/usr/bin/a"), "svc"))
	s := NewSource(path)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if cfg, err := s.Current(); err != nil || len(cfg.RegisteredBinaries) != 1 {
					t.Errorf("Current() = %+v, %v", cfg, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		err := Update(path, func(c *Config) error {
			c.RegisteredBinaries[0].GrantRead("s" + string(rune('a'+i)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

func BenchmarkSourceCurrentUnchanged(b *testing.B) {
	path := filepath.Join(b.TempDir(), ConfigFile)
	if err := os.WriteFile(path, []byte(oneEntry(fx("/usr/bin/a"), "svc")), 0o600); err != nil {
		b.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		b.Fatal(err)
	}
	racyWindow = 0
	defer func() { racyWindow = 2 * time.Second }()
	s := NewSource(path)
	if _, err := s.Current(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Current(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSourceCurrentAt: with the watcher's stamp, an unchanged policy is
// served without a stat, and each way of changing it is seen by the next
// call: replaced by Update, rewritten in place, removed, and a directory
// above it renamed with another policy put in its place. Canary: a watcher
// without the watches above the file's own directory serves the old
// policy after that last change.
func TestSourceCurrentAt(t *testing.T) {
	noRacyWindow(t)
	changes := []struct {
		name   string
		change func(t *testing.T, root, path string)
		want   []string // services the entry may read afterwards; nil: no entry
		canary bool
	}{
		{"update", func(t *testing.T, root, path string) {
			if err := Update(path, func(c *Config) error {
				c.RegisteredBinaries[0].RevokeRead("aaa")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}, []string{}, false},
		{"in place", func(t *testing.T, root, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte(oneEntry(fx("/usr/bin/a"), "bbb")), 0); err != nil {
				t.Fatal(err)
			}
		}, []string{"bbb"}, false},
		{"removed", func(t *testing.T, root, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, nil, false},
		{"directory above replaced", func(t *testing.T, root, path string) {
			if err := os.Rename(root+"/x", root+"/x.old"); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, oneEntry(fx("/usr/bin/a"), "ccc"))
		}, []string{"ccc"}, true},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			for _, weak := range []bool{true, false} {
				if weak && !c.canary {
					continue
				}
				root := t.TempDir()
				path := filepath.Join(root, "x", "cfg", ConfigFile)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, oneEntry(fx("/usr/bin/a"), "aaa"))
				w, err := fresh.New(fresh.Weakening{NoAncestors: weak})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { w.Close() })
				s := NewSource(path)
				s.watcher = w
				for range 3 { // load and watch; stat once under the watch; then none
					if _, err := s.CurrentAt(w.Check()); err != nil {
						t.Fatal(err)
					}
				}
				before := s.stats
				if _, err := s.CurrentAt(w.Check()); err != nil || s.stats != before {
					t.Fatalf("unchanged policy: %d stats, %v", s.stats-before, err)
				}
				c.change(t, root, path)
				cfg, err := s.CurrentAt(w.Check())
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				if len(cfg.RegisteredBinaries) > 0 {
					got = []string{}
					for _, svc := range []string{"aaa", "bbb", "ccc"} {
						if cfg.RegisteredBinaries[0].CanRead(svc) {
							got = append(got, svc)
						}
					}
				}
				if weak {
					if !slices.Equal(got, []string{"aaa"}) {
						t.Fatalf("canary: the weakened watcher should have kept the old policy, got %v", got)
					}
					continue
				}
				if !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
					t.Fatalf("after the change: %v, want %v", got, c.want)
				}
			}
		})
	}
}
