package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The daemon reads its vault passphrase from the environment once and
// removes both variables, as the README says, so nothing it starts
// inherits them.
func TestPassphraseFromEnvClearsBoth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYCHAIN_AUTH_PASSPHRASE", "")
	t.Setenv("KEYCHAIN_AUTH_PASSPHRASE_FILE", file)
	got, _, err := passphraseFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if got.Reveal() != "from-file" {
		t.Errorf("passphrase from file: got %d bytes, want the file's line without its newline", got.Len())
	}
	for _, name := range []string{"KEYCHAIN_AUTH_PASSPHRASE", "KEYCHAIN_AUTH_PASSPHRASE_FILE"} {
		if _, ok := os.LookupEnv(name); ok {
			t.Errorf("%s still set after passphraseFromEnv", name)
		}
	}
}
