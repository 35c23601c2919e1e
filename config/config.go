// Package config reads and writes keychain-auth's files: the policy file
// config.json, the pending-approval queue pending.json, and the per-OS
// directories that hold them. Writes are atomic (temporary file, fsync,
// rename, directory fsync) and read-modify-write cycles are serialised
// with a lock file, so the daemon and the CLI can write at the same time.
//
// It validates the shape of the policy (absolute clean paths, sha256
// hashes, exact field names) but does not decide anything: the policy
// package turns a Config and a caller into a decision. It never sees a
// secret value.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
)

// ProtocolVersion is the only protocol_version this build understands.
const ProtocolVersion = "1"

// ErrInvalid marks a policy file that could not be parsed or failed
// validation. Load, Update and Source.Current wrap it; a caller that
// sees it must deny, never fall back to something more permissive.
var ErrInvalid = errors.New("invalid config")

// Config is the content of config.json. Fields this version does not know
// are kept, at the top level and in every entry, and written back
// unchanged by Update.
//
// A *Config returned by Source.Current is shared between requests: treat
// it as read-only.
type Config struct {
	ProtocolVersion    string
	RegisteredBinaries []Entry

	extra map[string]json.RawMessage
}

// Entry is one registered program: an executable or a script, identified
// by its symlink-resolved absolute path and the SHA-256 of its content.
// A new entry grants nothing.
type Entry struct {
	Path         string
	Hash         string
	RegisteredAt string
	// AllowedReadServices are the services the program may read and search.
	AllowedReadServices []string
	// AllowedWriteServices are the services the program may write and delete in.
	AllowedWriteServices []string
	// CanSearch permits search, and read or delete by prefix.
	CanSearch bool
	// AllowEnv names loader or interpreter injection variables
	// (LD_PRELOAD, PYTHONPATH, ...) this program may run with; any other
	// one in its environment gets it denied. JSON "allow_env", omitted
	// when empty.
	AllowEnv []string
	// AllowedRunServices are the services whose values `keychain-auth run`
	// may put into this program's environment when it is the PROGRAM run
	// (not the caller). Separate from read: a process's environment is
	// readable by every program of the same user while it runs. JSON
	// "allowed_run_services", omitted when empty.
	AllowedRunServices []string
	// Interpreter, set for a script registered from its #! line, is how
	// the script must run: under that interpreter with exactly those
	// options. Nil for an executable, and for a script registered before
	// the field existed (any known interpreter, any harmless options).
	// JSON "interpreter", omitted when nil.
	Interpreter *Interpreter

	extra map[string]json.RawMessage
}

// Interpreter pins how a script runs. Path is the interpreter's resolved
// executable (what the kernel reports for the running process); Hash, when
// set, is its content too (registered so when the user could replace the
// file, so that a package upgrade of a root-owned interpreter does not
// refuse the script); Options are the arguments between the interpreter
// and the script, exactly as the kernel passes them for the #! line.
type Interpreter struct {
	Path    string   `json:"path"`
	Hash    string   `json:"hash,omitempty"`
	Options []string `json:"options"`
}

// NewEntry returns an entry for path and hash registered at t that grants
// nothing yet.
func NewEntry(path, hash string, t time.Time) Entry {
	return Entry{
		Path:                 path,
		Hash:                 hash,
		RegisteredAt:         t.UTC().Format(time.RFC3339),
		AllowedReadServices:  []string{},
		AllowedWriteServices: []string{},
	}
}

// Empty returns the configuration that applies when config.json does not
// exist: nothing registered.
func Empty() *Config {
	return &Config{ProtocolVersion: ProtocolVersion, RegisteredBinaries: []Entry{}}
}

// Load reads and validates the policy file at path. A missing or empty
// file is an empty configuration; anything unparsable or invalid is an
// error wrapping ErrInvalid that names the entry and field.
func Load(path string) (*Config, error) {
	data, err := atomicfile.ReadFile(path) // waits out a replace in progress on Windows
	if errors.Is(err, os.ErrNotExist) {
		return Empty(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates the bytes of a policy file. Empty input
// (only white space) is an empty configuration. A key that appears twice
// in one object is an error: different JSON readers would disagree on
// which one counts.
func Parse(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Empty(), nil
	}
	cfg := new(Config)
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, withLine(data, err))
	}
	if err := checkDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if cfg.ProtocolVersion == "" {
		cfg.ProtocolVersion = ProtocolVersion
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Update changes the policy file under an exclusive lock on path+".lock":
// it loads the file (creating the directory 0700 if needed), calls fn,
// validates the result and writes it atomically with mode 0600. If fn
// returns an error nothing is written and that error is returned as is.
// A file that fails to load is not overwritten.
func Update(path string, fn func(*Config) error) error {
	if err := EnsureDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("update config: %w", err)
	}
	unlock, err := atomicfile.Lock(path + lockSuffix)
	if err != nil {
		return fmt.Errorf("update config: %w", err)
	}
	defer unlock()
	cfg, err := Load(path)
	if err != nil {
		return fmt.Errorf("update config: %w", err)
	}
	if err := fn(cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("update config: %w", err)
	}
	data, err := cfg.Encode()
	if err != nil {
		return fmt.Errorf("update config: %w", err)
	}
	_, err = atomicfile.WriteFile(path, data, 0o600)
	return err
}

// Encode returns the file form of c: indented JSON, a trailing newline,
// known fields in the spec's order, unknown fields after them, lists
// written as [] rather than null.
func (c *Config) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

// Validate checks what Parse checks: protocol_version "1"; per entry an
// absolute, clean path, a hash of the form sha256:<64 lowercase hex>, no
// empty service or variable names; no two entries for one path.
func (c *Config) Validate() error {
	if c.ProtocolVersion != ProtocolVersion {
		return fmt.Errorf("%w: protocol_version %q is not supported (want %q)", ErrInvalid, c.ProtocolVersion, ProtocolVersion)
	}
	seen := make(map[string]int, len(c.RegisteredBinaries))
	for i := range c.RegisteredBinaries {
		e := &c.RegisteredBinaries[i]
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: registered_binaries[%d].%w", ErrInvalid, i, err)
		}
		if j, dup := seen[e.Path]; dup {
			return fmt.Errorf("%w: registered_binaries[%d].path: %q is already registered by registered_binaries[%d]", ErrInvalid, i, e.Path, j)
		}
		seen[e.Path] = i
	}
	return nil
}

func (e *Entry) validate() error {
	switch {
	case e.Path == "":
		return errors.New("path: missing")
	case !filepath.IsAbs(e.Path):
		return fmt.Errorf("path: %q is not absolute", e.Path)
	case filepath.Clean(e.Path) != e.Path:
		return fmt.Errorf("path: %q is not clean (want %q)", e.Path, filepath.Clean(e.Path))
	case !ValidHash(e.Hash):
		return fmt.Errorf("hash: %q is not sha256:<64 lowercase hex>", e.Hash)
	}
	lists := []struct {
		name string
		list []string
	}{
		{"allowed_read_services", e.AllowedReadServices},
		{"allowed_write_services", e.AllowedWriteServices},
		{"allow_env", e.AllowEnv},
		{"allowed_run_services", e.AllowedRunServices},
	}
	for _, l := range lists {
		if i := slices.Index(l.list, ""); i >= 0 {
			return fmt.Errorf("%s[%d]: empty name", l.name, i)
		}
	}
	if in := e.Interpreter; in != nil {
		switch {
		case !filepath.IsAbs(in.Path) || filepath.Clean(in.Path) != in.Path:
			return fmt.Errorf("interpreter.path: %q is not an absolute clean path", in.Path)
		case in.Hash != "" && !ValidHash(in.Hash):
			return fmt.Errorf("interpreter.hash: %q is not sha256:<64 lowercase hex>", in.Hash)
		}
		if i := slices.Index(in.Options, ""); i >= 0 {
			return fmt.Errorf("interpreter.options[%d]: empty option", i)
		}
	}
	return nil
}

// hashPrefix is the algorithm tag every hash carries.
const hashPrefix = "sha256:"

// ValidHash reports whether s is "sha256:" followed by 64 lowercase hex
// digits, the only form stored and compared.
func ValidHash(s string) bool {
	hex, ok := strings.CutPrefix(s, hashPrefix)
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range []byte(hex) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// NormalizeHash accepts a hash as a user types it (sha256:<hex> or bare
// hex, either case) and returns the stored form.
func NormalizeHash(s string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	if !strings.HasPrefix(h, hashPrefix) {
		h = hashPrefix + h
	}
	if !ValidHash(h) {
		return "", fmt.Errorf("hash %q is not sha256:<64 hex digits>", s)
	}
	return h, nil
}

// withLine adds the line number to a JSON syntax error, which otherwise
// reports only a byte offset.
func withLine(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) || se.Offset > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
	return fmt.Errorf("line %d: %w", line, err)
}
