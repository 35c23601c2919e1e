package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/secret"
)

// shortPassphrase is the length under which a vault passphrase gets a
// warning: Argon2id slows guessing down, it does not make "a" strong.
const shortPassphrase = 12

// passphraseSourceFile, in the data directory, records where the running
// daemon's vault passphrase came from: "file PATH", "env" or "none". It
// holds no secret; `passwd` reads it to warn about a passphrase file that
// no longer matches.
const passphraseSourceFile = "passphrase-source"

// passSource is where serve found the vault passphrase.
type passSource struct {
	kind string // "file", "env" or "none"
	file string // for "file": the absolute path
}

func (s passSource) String() string {
	if s.kind == "file" {
		return "file " + s.file
	}
	return s.kind
}

// passphraseFromEnv reads the vault passphrase from KEYCHAIN_AUTH_PASSPHRASE
// or the file named by KEYCHAIN_AUTH_PASSPHRASE_FILE, and removes both from
// our environment so that nothing we start inherits them. A file that group
// or others can access is refused.
func passphraseFromEnv() (secret.Value, passSource, error) {
	defer os.Unsetenv("KEYCHAIN_AUTH_PASSPHRASE")
	defer os.Unsetenv("KEYCHAIN_AUTH_PASSPHRASE_FILE")
	if p, ok := os.LookupEnv("KEYCHAIN_AUTH_PASSPHRASE"); ok && p != "" {
		return secret.New(p), passSource{kind: "env"}, nil
	}
	file := os.Getenv("KEYCHAIN_AUTH_PASSPHRASE_FILE")
	if file == "" {
		return "", passSource{kind: "none"}, nil
	}
	p, err := readPassphraseFile(file)
	if err != nil {
		return "", passSource{}, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	return p, passSource{kind: "file", file: abs}, nil
}

// readPassphraseFile reads the first line of a passphrase file that only
// its owner can access.
func readPassphraseFile(file string) (secret.Value, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("read passphrase file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read passphrase file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fail(exitError, "passphrase file %s has mode %04o: group or others can access it, so it protects nothing", file, perm).
			hint("`chmod 600 %s`, and check who read it meanwhile (change the passphrase with `keychain-auth passwd` if in doubt)", file)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPassphrase+2))
	defer clear(b)
	if err != nil {
		return "", fmt.Errorf("read passphrase file: %w", err)
	}
	p := strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
	if p == "" {
		return "", fmt.Errorf("passphrase file %s is empty", file)
	}
	return secret.New(p), nil
}

// recordPassphraseSource writes where this daemon's passphrase came from.
func recordPassphraseSource(dataDir string, s passSource) error {
	if _, err := atomicfile.WriteFile(filepath.Join(dataDir, passphraseSourceFile), []byte(s.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("record passphrase source: %w", err)
	}
	return nil
}

// lastPassphraseSource reads the record of the last daemon start; kind ""
// when there is none.
func lastPassphraseSource(dataDir string) passSource {
	b, err := os.ReadFile(filepath.Join(dataDir, passphraseSourceFile))
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return passSource{}
	}
	line := strings.TrimSpace(string(b))
	if f, ok := strings.CutPrefix(line, "file "); ok {
		return passSource{kind: "file", file: f}
	}
	return passSource{kind: line}
}

// noteVaultStart logs a locked start and a short passphrase, and records
// where the passphrase came from (only for the file vault, the one store
// it protects).
func noteVaultStart(log *slog.Logger, store backend.Store, pass secret.Value, src passSource, dataDir string) error {
	lk, ok := store.(backend.Lockable)
	if !ok {
		return nil
	}
	if lk.Locked() {
		log.Warn("the vault has a passphrase and none was given: started locked; item requests answer store_locked until `keychain-auth unlock`")
	}
	if pass.Len() > 0 && len([]rune(pass.Reveal())) < shortPassphrase {
		log.Warn("the vault passphrase is short; a longer one (`keychain-auth passwd`) makes a stolen vault file much harder to guess", "characters_at_least", shortPassphrase)
	}
	return recordPassphraseSource(dataDir, src)
}
