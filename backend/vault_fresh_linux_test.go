package backend_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/internal/fresh"
	"github.com/keychain-auth/keychain-auth/secret"
)

// TestVaultReadsAtSeesOtherWriters: the daemon's vault reads with the
// watcher's stamp (ReadsAt), which skips the journal's stat while nothing
// changed. Another process's writes (a second Vault on the directory, as an
// offline command) are seen by the next read whose stamp was taken after
// them: an append to the journal, a write that compacts (a new snapshot and
// a new journal renamed over the old one), a passphrase change. Canary: a
// read with a stamp taken before the other write is answered from memory
// with the old value: the stat was skipped, and the stamp's order is what
// keeps the answer right.
func TestVaultReadsAtSeesOtherWriters(t *testing.T) {
	for _, compacting := range []bool{false, true} {
		name := "append"
		if compacting {
			name = "compacting"
		}
		t.Run(name, func(t *testing.T) {
			cheapKDF(t)
			if compacting {
				t.Cleanup(backend.VaultCompactionForTest(512, 1))
			}
			w := fresh.Default()
			if w == nil {
				t.Fatal("no inotify here; the daemon would stat on every read")
			}
			dir := t.TempDir()
			a := openVault(t, dir, testPass)
			b := openVault(t, dir, testPass)
			set := func(v *backend.Vault, value string) {
				t.Helper()
				if err := v.Set("svc", []backend.Item{{Key: "k", Value: secret.New(value)}}); err != nil {
					t.Fatal(err)
				}
			}
			read := func(now fresh.Stamp) string {
				t.Helper()
				it, err := a.ReadsAt(now).Get("svc", "k")
				if err != nil {
					t.Fatal(err)
				}
				return it.Value.Reveal()
			}
			set(a, "one")
			last := "one"
			for i, value := range []string{"two", "three"} {
				if compacting {
					value += strings.Repeat(".", 600) // past the bound: this write compacts
				}
				// After a change the journal is watched anew and stat'ed
				// once under the watch before reads skip the stat.
				for range 3 {
					if got := read(w.Check()); got != last {
						t.Fatalf("read %q, want %q", got, last)
					}
				}
				before := w.Check()
				journal := filepath.Join(dir, backend.VaultJournalFileName)
				old, err := os.Stat(journal)
				if err != nil {
					t.Fatal(err)
				}
				set(b, value)
				if now, err := os.Stat(journal); err != nil || os.SameFile(now, old) == compacting {
					t.Fatalf("write %d: journal replaced %v, want %v (%v)", i, err == nil && !os.SameFile(now, old), compacting, err)
				}
				if got := read(before); got == value {
					t.Fatalf("canary, write %d: a stamp taken before the other process's write should be answered from memory, got %q", i, got)
				}
				if got := read(w.Check()); got != value {
					t.Fatalf("write %d by another process unseen: read %q, want %q", i, got, value)
				}
				last = value
			}
			if err := b.ChangePassphrase(secret.New("rotated")); err != nil {
				t.Fatal(err)
			}
			if _, err := a.ReadsAt(w.Check()).Get("svc", "k"); !errors.Is(err, backend.ErrLocked) {
				t.Fatalf("read after another process changed the passphrase: %v, want ErrLocked", err)
			}
		})
	}
}
