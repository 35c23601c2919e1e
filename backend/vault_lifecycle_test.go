package backend_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

func wantLocked(t *testing.T, v *backend.Vault) {
	t.Helper()
	if !v.Locked() {
		t.Error("Locked() = false, want true")
	}
	_, gerr := v.Get("svc", "k")
	_, lerr := v.List("svc", "", false)
	serr := v.Set("svc", []backend.Item{{Key: "n", Value: secret.New("x")}})
	derr := v.Delete("svc", []string{"k"})
	for name, err := range map[string]error{"Get": gerr, "List": lerr, "Set": serr, "Delete": derr} {
		if !errors.Is(err, backend.ErrLocked) {
			t.Errorf("%s on a locked vault: err = %v, want ErrLocked", name, err)
		}
	}
}

func TestVaultLockUnlock(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	v := openVault(t, dir, testPass)
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("value")})
	if v.Locked() {
		t.Fatal("a freshly opened vault reports Locked")
	}
	var _ backend.Lockable = v
	if err := v.Lock(); err != nil {
		t.Fatal(err)
	}
	wantLocked(t, v)
	if err := v.Lock(); err != nil {
		t.Errorf("second Lock: %v", err)
	}
	if err := v.Unlock(secret.New("wrong")); !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("Unlock with a wrong passphrase: err = %v, want ErrBadPassphrase", err)
	}
	wantLocked(t, v)
	if err := v.Unlock(secret.New("")); !errors.Is(err, backend.ErrPassphraseRequired) {
		t.Errorf("Unlock without a passphrase: err = %v, want ErrPassphraseRequired", err)
	}
	if err := v.Unlock(secret.New(testPass)); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	wantValue(t, v, "svc", "k", "value")
	// A wrong passphrase on an unlocked vault fails and keeps it unlocked.
	if err := v.Unlock(secret.New("wrong")); !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("Unlock(wrong) while unlocked: err = %v", err)
	}
	wantValue(t, v, "svc", "k", "value")
}

func TestVaultLockUnlockKeyFile(t *testing.T) {
	v := openVault(t, t.TempDir(), "")
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("value")})
	if err := v.Lock(); err != nil {
		t.Fatal(err)
	}
	wantLocked(t, v)
	if err := v.Unlock(secret.New(testPass)); err == nil {
		t.Error("Unlock of a key-file vault with a passphrase succeeded")
	}
	if err := v.Unlock(secret.New("")); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	wantValue(t, v, "svc", "k", "value")
}

func TestVaultChangePassphraseFromKeyFile(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, backend.VaultKeyFileName)
	v := openVault(t, dir, "")
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("value")})
	if err := v.ChangePassphrase(secret.New("")); err == nil {
		t.Error("ChangePassphrase to an empty passphrase succeeded")
	}
	if err := v.ChangePassphrase(secret.New(testPass)); err != nil {
		t.Fatalf("ChangePassphrase: %v", err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("key file still there after ChangePassphrase (stat err %v)", err)
	}
	if w := v.Info().Warning; w != "" {
		t.Errorf("Info().Warning after setting a passphrase = %q", w)
	}
	wantValue(t, v, "svc", "k", "value")
	set(t, v, "svc", backend.Item{Key: "k2", Value: secret.New("after")})
	v.Close()
	if _, err := backend.OpenVault(dir, backend.VaultOptions{}); !errors.Is(err, backend.ErrPassphraseRequired) {
		t.Errorf("open without passphrase: err = %v, want ErrPassphraseRequired", err)
	}
	v2 := openVault(t, dir, testPass)
	wantValue(t, v2, "svc", "k", "value")
	wantValue(t, v2, "svc", "k2", "after")
}

func TestVaultChangePassphrase(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	v := openVault(t, dir, "old passphrase")
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("value")})
	if err := v.ChangePassphrase(secret.New("new passphrase")); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New("old passphrase")}); !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("open with the old passphrase: err = %v, want ErrBadPassphrase", err)
	}
	wantValue(t, openVault(t, dir, "new passphrase"), "svc", "k", "value")
}

// A failed write changes neither memory nor the disk, whether the change
// was to go into the journal or into a new snapshot.
func TestVaultBatchAllOrNothing(t *testing.T) {
	t.Run("Journal", func(t *testing.T) { testBatchAllOrNothing(t, false) })
	t.Run("Snapshot", func(t *testing.T) {
		t.Cleanup(backend.VaultCompactionForTest(0, 63))
		testBatchAllOrNothing(t, true)
	})
}

func testBatchAllOrNothing(t *testing.T, snapshot bool) {
	dir := t.TempDir()
	v := openVault(t, dir, "")
	set(t, v, "svc", backend.Item{Key: "keep", Value: secret.New("old")})
	before := readDir(t, dir)

	restore := backend.FailVaultWritesForTest(false, errors.New("injected: disk full"))
	batch := []backend.Item{{Key: "keep", Value: secret.New("new")}, {Key: "a", Value: secret.New("1")}, {Key: "b", Value: secret.New("2")}}
	if err := v.Set("svc", batch); err == nil {
		t.Error("Set succeeded although the write failed")
	}
	if err := v.Delete("svc", []string{"keep"}); err == nil {
		t.Error("Delete succeeded although the write failed")
	}
	restore()
	wantValue(t, v, "svc", "keep", "old")
	if items, _ := v.List("svc", "", false); len(items) != 1 {
		t.Errorf("after a failed batch: %d items in memory, want 1", len(items))
	}
	if after := readDir(t, dir); !maps.Equal(before, after) {
		t.Error("a failed write changed the files of the vault")
	}

	restore = backend.FailVaultWritesForTest(true, errors.New("injected: fsync"))
	err := v.Set("svc", batch)
	restore()
	if err == nil {
		t.Error("Set reported success although the write failed")
	}
	if snapshot {
		// A failure after the rename (the directory fsync): the file
		// changed, so memory follows it and the error is still reported.
		wantValue(t, v, "svc", "a", "1")
		v.Close()
		wantValue(t, openVault(t, dir, ""), "svc", "keep", "new")
		return
	}
	// A journal record whose fsync failed is cut off again: the change is
	// in neither memory nor the file, and the next write goes on from there.
	if _, err := v.Get("svc", "a"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("after a failed append: Get(a) err = %v, want ErrNotFound", err)
	}
	if after := readDir(t, dir); !maps.Equal(before, after) {
		t.Error("a failed append left its record in the journal")
	}
	set(t, v, "svc", backend.Item{Key: "c", Value: secret.New("3")})
	v.Close()
	v2 := openVault(t, dir, "")
	wantValue(t, v2, "svc", "keep", "old")
	wantValue(t, v2, "svc", "c", "3")
	if _, err := v2.Get("svc", "a"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("after reopening: Get(a) err = %v, want ErrNotFound", err)
	}
}

// readDir returns the content of every file in dir but the lock.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.Name() == backend.VaultLockFileName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// Two Vaults on one directory stand for the daemon and an offline command:
// neither loses the other's writes, and each sees the other's changes.
// With a small compaction bound, the writers also replace the snapshot
// under each other.
func TestVaultTwoWriters(t *testing.T) {
	t.Run("Journal", testTwoWriters)
	t.Run("Compacting", func(t *testing.T) {
		t.Cleanup(backend.VaultCompactionForTest(512, 1))
		testTwoWriters(t)
	})
}

func testTwoWriters(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	a := openVault(t, dir, testPass)
	b := openVault(t, dir, testPass)
	var wg sync.WaitGroup
	for i, v := range []*backend.Vault{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				k := fmt.Sprintf("w%d-%02d", i, j)
				if err := v.Set("svc", []backend.Item{{Key: k, Value: secret.New(k)}}); err != nil {
					t.Errorf("Set %s: %v", k, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, v := range []*backend.Vault{a, b} {
		if items, err := v.List("svc", "", true); err != nil || len(items) != 40 {
			t.Errorf("List: %d items (err %v), want 40: a writer lost the other's updates", len(items), err)
		}
	}
	// Re-keyed by "passwd" in another process: the daemon locks itself.
	if err := b.ChangePassphrase(secret.New("rotated")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get("svc", "w0-00"); !errors.Is(err, backend.ErrLocked) {
		t.Errorf("Get after another process changed the passphrase: err = %v, want ErrLocked", err)
	}
	if err := a.Unlock(secret.New("rotated")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, a, "svc", "w1-19", "w1-19")
}

// A passphrase vault opened without its passphrase, with
// LockedWithoutPassphrase, starts locked and opens with Unlock; without the
// option it is still refused.
func TestVaultOpenLockedWithoutPassphrase(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	v := openVault(t, dir, testPass)
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("value")})
	v.Close()
	if _, err := backend.OpenVault(dir, backend.VaultOptions{}); !errors.Is(err, backend.ErrPassphraseRequired) {
		t.Fatalf("OpenVault without passphrase: err = %v, want ErrPassphraseRequired", err)
	}
	lv, err := backend.OpenVault(dir, backend.VaultOptions{LockedWithoutPassphrase: true})
	if err != nil {
		t.Fatalf("OpenVault locked: %v", err)
	}
	defer lv.Close()
	wantLocked(t, lv)
	if info := lv.Info(); info.Warning != "" {
		t.Errorf("locked passphrase vault warns about a key file: %q", info.Warning)
	}
	if err := lv.Unlock(secret.New("wrong")); !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("Unlock(wrong): err = %v, want ErrBadPassphrase", err)
	}
	wantLocked(t, lv)
	if err := lv.Unlock(secret.New(testPass)); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	wantValue(t, lv, "svc", "k", "value")
}

// A key-file vault ignores LockedWithoutPassphrase: it opens unlocked.
func TestVaultOpenLockedOptionKeyFile(t *testing.T) {
	dir := t.TempDir()
	openVault(t, dir, "").Close()
	v, err := backend.OpenVault(dir, backend.VaultOptions{LockedWithoutPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Locked() {
		t.Error("key-file vault opened locked")
	}
}
