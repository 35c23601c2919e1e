package backend_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/backend/storetest"
	"github.com/keychain-auth/keychain-auth/secret"
)

const (
	testPass      = "correct horse battery staple"
	markerValue   = "vault-canary-value-5b1e9d"
	markerKeyName = "vault-canary-keyname-c07a44"
)

func openVault(t *testing.T, dir string, pass string) *backend.Vault {
	t.Helper()
	v, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New(pass)})
	if err != nil {
		t.Fatalf("OpenVault(%q): %v", dir, err)
	}
	return v
}

func cheapKDF(t *testing.T) {
	t.Cleanup(backend.UseCheapKDFForTest())
}

func TestVaultConformance(t *testing.T) {
	cheapKDF(t)
	for _, mode := range []struct{ name, pass string }{{"KeyFile", ""}, {"Passphrase", testPass}} {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, storetest.Harness{
				Open: func(t *testing.T) backend.Store { return openVault(t, t.TempDir(), mode.pass) },
			})
		})
	}
}

func TestVaultInfo(t *testing.T) {
	cheapKDF(t)
	kf := openVault(t, t.TempDir(), "").Info()
	if kf.Name != "file" || !kf.AtomicBatch || !strings.Contains(kf.Warning, backend.VaultKeyFileName) {
		t.Errorf("key-file Info() = %+v, want name file, atomic batch, a warning naming the key file", kf)
	}
	pp := openVault(t, t.TempDir(), testPass).Info()
	if pp.Name != "file" || !pp.AtomicBatch || pp.Warning != "" || !strings.Contains(pp.AtRest, "Argon2id") {
		t.Errorf("passphrase Info() = %+v, want no warning and Argon2id at rest", pp)
	}
}

func set(t *testing.T, s backend.Store, service string, items ...backend.Item) {
	t.Helper()
	if err := s.Set(service, items); err != nil {
		t.Fatalf("Set(%q): %v", service, err)
	}
}

func wantValue(t *testing.T, s backend.Store, service, key, want string) {
	t.Helper()
	it, err := s.Get(service, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", service, key, err)
	}
	if it.Value.Reveal() != want {
		t.Errorf("Get(%q, %q): value differs (got %d bytes, want %d)", service, key, it.Value.Len(), len(want))
	}
}

func TestVaultReopenKeepsData(t *testing.T) {
	cheapKDF(t)
	for _, pass := range []string{"", testPass} {
		dir := t.TempDir()
		v := openVault(t, dir, pass)
		set(t, v, "svc", backend.Item{Key: "a", Value: secret.New("alpha"), Attributes: map[string]string{"u": "x"}},
			backend.Item{Key: "b", Value: secret.New("beta")})
		set(t, v, "other", backend.Item{Key: "c", Value: secret.New("gamma")})
		if err := v.Delete("svc", []string{"b"}); err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Get("svc", "a"); err == nil {
			t.Error("Get after Close succeeded")
		}
		v2 := openVault(t, dir, pass)
		wantValue(t, v2, "svc", "a", "alpha")
		wantValue(t, v2, "other", "c", "gamma")
		if it, _ := v2.Get("svc", "a"); it.Attributes["u"] != "x" {
			t.Errorf("attributes after reopen = %v", it.Attributes)
		}
		if _, err := v2.Get("svc", "b"); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("deleted key after reopen: err = %v, want ErrNotFound", err)
		}
	}
}

func readVaultFile(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, backend.VaultFileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVaultWrongPassphrase(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	v := openVault(t, dir, testPass)
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("v")})
	v.Close()
	before := readVaultFile(t, dir)

	_, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New("wrong horse")})
	if !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("wrong passphrase: err = %v, want ErrBadPassphrase", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong horse") {
		t.Errorf("error %q contains the passphrase", err)
	}
	_, err = backend.OpenVault(dir, backend.VaultOptions{})
	if !errors.Is(err, backend.ErrPassphraseRequired) {
		t.Errorf("no passphrase for a passphrase vault: err = %v, want ErrPassphraseRequired", err)
	}
	if after := readVaultFile(t, dir); !bytes.Equal(before, after) {
		t.Error("a failed open changed the vault file")
	}
	if _, err := os.Stat(filepath.Join(dir, backend.VaultKeyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed open of a passphrase vault left a key file (stat err %v)", err)
	}
}

func TestVaultPassphraseForKeyFileVault(t *testing.T) {
	dir := t.TempDir()
	openVault(t, dir, "").Close()
	before := readVaultFile(t, dir)
	_, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New(testPass)})
	if err == nil || errors.Is(err, backend.ErrBadPassphrase) || !strings.Contains(err.Error(), "key file") {
		t.Errorf("passphrase for a key-file vault: err = %v, want an error saying it uses a key file", err)
	}
	if after := readVaultFile(t, dir); !bytes.Equal(before, after) {
		t.Error("a failed open changed the vault file")
	}
}

func TestVaultTamperedFile(t *testing.T) {
	cheapKDF(t)
	for _, pass := range []string{"", testPass} {
		dir := t.TempDir()
		v := openVault(t, dir, pass)
		set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("some value")})
		v.Close()
		orig := readVaultFile(t, dir)
		path := filepath.Join(dir, backend.VaultFileName)
		// Every byte of the header (magic, version, mode, KDF, salt, nonce),
		// the ciphertext and the tag.
		for off := range orig {
			bad := bytes.Clone(orig)
			bad[off] ^= 0x01
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New(pass)})
			if err == nil {
				t.Fatalf("pass=%v: a vault with byte %d flipped opened without error", pass != "", off)
			}
			if off >= 60 && !errors.Is(err, backend.ErrBadPassphrase) {
				t.Errorf("byte %d flipped: err = %v, want ErrBadPassphrase", off, err)
			}
		}
		if err := os.WriteFile(path, orig[:len(orig)-1], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New(pass)}); err == nil {
			t.Error("a truncated vault opened without error")
		}
	}
}

// A snapshot replaced under a running vault is never read as data: the
// next write fails on it rather than overwrite the evidence, and from then
// on reads fail too. Until that write, reads may go on from memory (what
// was read and authenticated before); with the journal replaced as well,
// as any keychain-auth write does, they notice at once.
func TestVaultTamperedWhileOpen(t *testing.T) {
	for _, journalToo := range []bool{false, true} {
		dir := t.TempDir()
		v := openVault(t, dir, "")
		set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("v")})
		bad := readVaultFile(t, dir)
		bad[len(bad)-1] ^= 0x80
		// Replace the file as another process would (new inode).
		tmp := filepath.Join(dir, "evil")
		if err := os.WriteFile(tmp, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, backend.VaultFileName)); err != nil {
			t.Fatal(err)
		}
		if journalToo {
			if err := os.Remove(filepath.Join(dir, backend.VaultJournalFileName)); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Get("svc", "k"); !errors.Is(err, backend.ErrBadPassphrase) {
				t.Errorf("Get after the files were replaced: err = %v, want ErrBadPassphrase", err)
			}
		} else if it, err := v.Get("svc", "k"); err == nil && it.Value.Reveal() != "v" {
			t.Error("Get after the snapshot was replaced returned a value other than the one written")
		}
		if err := v.Set("svc", []backend.Item{{Key: "x", Value: secret.New("y")}}); !errors.Is(err, backend.ErrBadPassphrase) {
			t.Errorf("Set over a tampered vault: err = %v, want ErrBadPassphrase (it would have overwritten the evidence)", err)
		}
		if _, err := v.Get("svc", "k"); !errors.Is(err, backend.ErrBadPassphrase) {
			t.Errorf("Get after a write found the vault tampered with: err = %v, want ErrBadPassphrase", err)
		}
		if got := readVaultFile(t, dir); !bytes.Equal(got, bad) {
			t.Error("the tampered snapshot was overwritten")
		}
		v.Close()
	}
}

// grepDir reports the files in dir whose bytes contain any marker.
func grepDir(t *testing.T, dir string, markers ...string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				hits = append(hits, filepath.Base(p)+" contains "+m[:12]+"...")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestVaultNoPlaintextOnDisk(t *testing.T) {
	cheapKDF(t)
	for _, pass := range []string{"", testPass} {
		dir := t.TempDir()
		v := openVault(t, dir, pass)
		set(t, v, "svc-"+markerKeyName, backend.Item{Key: markerKeyName, Value: secret.New(markerValue),
			Attributes: map[string]string{"note": markerKeyName}})
		set(t, v, "svc", backend.Item{Key: "other", Value: secret.New(markerValue)})
		if err := v.Delete("svc", []string{"other"}); err != nil {
			t.Fatal(err)
		}
		// The writes went into the journal (names, values, the deleted key
		// and the delete record), which the grep below covers with the
		// snapshot.
		if st, err := os.Stat(filepath.Join(dir, backend.VaultJournalFileName)); err != nil || st.Size() < 3*60 {
			t.Fatalf("journal after three writes: %v, %v; want three records", st, err)
		}
		if hits := grepDir(t, dir, markerValue, markerKeyName); len(hits) > 0 {
			t.Errorf("plaintext on disk: %v", hits)
		}
		if pass != "" {
			if hits := grepDir(t, dir, testPass); len(hits) > 0 {
				t.Errorf("passphrase on disk: %v", hits)
			}
		}
		v.Close()
	}
	// Canary: the same grep finds a marker that is on disk.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plain"), []byte("x"+markerValue+"y"), 0o600); err != nil {
		t.Fatal(err)
	}
	if hits := grepDir(t, dir, markerValue); len(hits) != 1 {
		t.Errorf("canary: grep found %v in a plaintext file, want one hit", hits)
	}
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

func TestVaultFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file mode bits are not how Windows protects files")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	v := openVault(t, dir, "")
	set(t, v, "svc", backend.Item{Key: "k", Value: secret.New("v")})
	wantMode(t, dir, 0o700)
	for _, name := range []string{backend.VaultFileName, backend.VaultKeyFileName, backend.VaultLockFileName, backend.VaultJournalFileName} {
		wantMode(t, filepath.Join(dir, name), 0o600)
	}
	v.Close()
	// A key file others can read is refused, like ssh refuses such a key.
	if err := os.Chmod(filepath.Join(dir, backend.VaultKeyFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.OpenVault(dir, backend.VaultOptions{}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("open with a 0644 key file: err = %v, want a refusal", err)
	}
}

func TestVaultDefaultKDFCost(t *testing.T) {
	tm, mem, p := backend.DefaultKDFForTest()
	if tm < 2 || mem < 32<<10 || p < 1 {
		t.Errorf("default Argon2id t=%d m=%dKiB p=%d is weaker than t=2 m=32MiB", tm, mem, p)
	}
	start := time.Now()
	backend.DeriveDefaultKeyForTest(testPass)
	d := time.Since(start)
	t.Logf("default Argon2id t=%d m=%dKiB p=%d took %v", tm, mem, p, d)
	// Generous: the budget is ~0.5 s, but CI cores are shared.
	if d > 2*time.Second {
		t.Errorf("default KDF took %v, want well under a second", d)
	}
}
