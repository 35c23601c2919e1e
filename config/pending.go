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
	"unicode"
	"unicode/utf8"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
)

// Pending queue defaults.
const (
	DefaultPendingTTL = 24 * time.Hour
	DefaultPendingMax = 100
	// maxCommandLine bounds what one record keeps of a command line (its
	// arguments' bytes plus one separator each), so a caller with a huge
	// argv cannot grow pending.json without limit.
	maxCommandLine = 4096
)

// ErrPendingFull is returned by Add when the queue already holds Max live
// records and the hash is not among them. Nothing is written.
var ErrPendingFull = errors.New("pending queue is full")

// PendingRecord is one program that asked and was not registered. The
// file format is the original keychain-auth's: command_line is the argv as
// a list of strings.
type PendingRecord struct {
	Path        string      `json:"path"`
	Hash        string      `json:"hash"`
	CommandLine CommandLine `json:"command_line"`
	Timestamp   time.Time   `json:"timestamp"`
}

// CommandLine is a caller's argv. It is written as a JSON list of strings,
// as the original keychain-auth writes it; a single string (what earlier
// versions of this program wrote) is read as a one-element list, and null
// as an empty one.
type CommandLine []string

// UnmarshalJSON reads a list of strings, a string or null.
func (c *CommandLine) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		*c = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*c = CommandLine{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return errors.New("command_line is neither a list of strings nor a string")
	}
	*c = list
	return nil
}

// String joins the arguments with spaces, as list-pending shows them.
func (c CommandLine) String() string { return strings.Join(c, " ") }

// Pending is the queue of programs waiting for approval, stored in
// pending.json as a JSON array, oldest first. There is one record per
// hash; records older than TTL are dropped on every write and hidden from
// List. The zero Max and TTL mean the defaults (100 records, 24 hours).
// Writes take the same lock file and atomic replacement as Update, so the
// daemon and the CLI may use one file at the same time.
//
// A pending.json that does not parse is an error for every method, never
// silently replaced: remove the file to reset the queue.
type Pending struct {
	Path string
	Max  int
	TTL  time.Duration

	now func() time.Time // tests move the clock
}

// Add records an attempt. A hash already queued gets the new timestamp
// and command line (its first path is kept). Control characters in the
// command line are replaced and it is cut to 4 KiB in all; it is shown to
// a human deciding on approval, and a caller chooses its own argv. A zero
// Timestamp means now.
func (p *Pending) Add(rec PendingRecord) error {
	if !ValidHash(rec.Hash) {
		return fmt.Errorf("pending add: hash %q is not sha256:<64 lowercase hex>", rec.Hash)
	}
	if !filepath.IsAbs(rec.Path) {
		return fmt.Errorf("pending add: path %q is not absolute", rec.Path)
	}
	if rec.Timestamp.IsZero() {
		rec.Timestamp = p.clock()
	}
	rec.Timestamp = rec.Timestamp.UTC().Truncate(time.Second)
	rec.CommandLine = cleanCommandLine(rec.CommandLine)
	return p.modify(func(recs []PendingRecord) ([]PendingRecord, error) {
		if i := indexHash(recs, rec.Hash); i >= 0 {
			recs[i].Timestamp, recs[i].CommandLine = rec.Timestamp, rec.CommandLine
			return recs, nil
		}
		if len(recs) >= p.max() {
			return nil, ErrPendingFull
		}
		return append(recs, rec), nil
	})
}

// Remove drops the record for hash; a hash not queued is not an error.
func (p *Pending) Remove(hash string) error {
	return p.modify(func(recs []PendingRecord) ([]PendingRecord, error) {
		if i := indexHash(recs, hash); i >= 0 {
			recs = slices.Delete(recs, i, i+1)
		}
		return recs, nil
	})
}

// List returns the live records, oldest first. A missing file is an
// empty queue.
func (p *Pending) List() ([]PendingRecord, error) {
	recs, err := p.read()
	if err != nil {
		return nil, fmt.Errorf("pending list: %w", err)
	}
	return recs, nil
}

// modify runs fn on the live records under the lock and writes the result.
func (p *Pending) modify(fn func([]PendingRecord) ([]PendingRecord, error)) error {
	if err := EnsureDir(filepath.Dir(p.Path)); err != nil {
		return fmt.Errorf("pending: %w", err)
	}
	unlock, err := atomicfile.Lock(p.Path + lockSuffix)
	if err != nil {
		return fmt.Errorf("pending: %w", err)
	}
	defer unlock()
	recs, err := p.read()
	if err != nil {
		return fmt.Errorf("pending: %w", err)
	}
	recs, err = fn(recs)
	if err != nil {
		return err
	}
	sortRecords(recs)
	data, err := json.MarshalIndent(nonNil(recs), "", "  ")
	if err != nil {
		return fmt.Errorf("pending: %w", err)
	}
	_, err = atomicfile.WriteFile(p.Path, append(data, '\n'), 0o600)
	return err
}

// read loads the file and keeps only the live records, oldest first.
func (p *Pending) read() ([]PendingRecord, error) {
	data, err := atomicfile.ReadFile(p.Path) // waits out a replace in progress on Windows
	if errors.Is(err, os.ErrNotExist) {
		return []PendingRecord{}, nil
	}
	if err != nil {
		return nil, err
	}
	recs, err := parsePending(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (remove the file to reset the queue)", p.Path, err)
	}
	now := p.clock()
	live := recs[:0]
	for _, r := range recs {
		if now.Sub(r.Timestamp) < p.ttl() {
			live = append(live, r)
		}
	}
	sortRecords(live)
	return live, nil
}

func parsePending(data []byte) ([]PendingRecord, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return []PendingRecord{}, nil
	}
	var recs []PendingRecord
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	for i, r := range recs {
		if !ValidHash(r.Hash) {
			return nil, fmt.Errorf("record %d: hash %q is not sha256:<64 lowercase hex>", i, r.Hash)
		}
	}
	return recs, nil
}

func (p *Pending) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

func (p *Pending) max() int {
	if p.Max > 0 {
		return p.Max
	}
	return DefaultPendingMax
}

func (p *Pending) ttl() time.Duration {
	if p.TTL > 0 {
		return p.TTL
	}
	return DefaultPendingTTL
}

func indexHash(recs []PendingRecord, hash string) int {
	return slices.IndexFunc(recs, func(r PendingRecord) bool { return r.Hash == hash })
}

func sortRecords(recs []PendingRecord) {
	slices.SortStableFunc(recs, func(a, b PendingRecord) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
}

// cleanCommandLine cleans each argument and keeps arguments while their
// bytes (plus one separator each) fit in maxCommandLine; the argument that
// crosses the bound is cut and marked with "…", and the rest dropped.
func cleanCommandLine(argv CommandLine) CommandLine {
	out := make(CommandLine, 0, len(argv))
	room := maxCommandLine
	for _, arg := range argv {
		arg = cleanArg(arg, room)
		out = append(out, arg)
		room -= len(arg) + 1
		if room <= 0 {
			break
		}
	}
	return out
}

// cleanArg replaces control characters (a terminal escape sequence in a
// caller's argv would otherwise reach list-pending's output) and invalid
// UTF-8, and cuts s to limit bytes on a rune boundary, marking the cut.
func cleanArg(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
	if len(s) <= limit {
		return s
	}
	cut := max(limit, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
