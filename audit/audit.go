// Package audit appends one JSON line per decision to the audit log and
// reads recent lines back for the `audit` command. Lines record who asked
// (pid, uid, program, courier), what (service, action, match, key names)
// and the outcome; the Record type has no field that can hold a secret
// value, and every string is JSON-escaped, so a key name cannot forge a
// line. The log is rotated by size (audit.log, audit.log.1, ...).
//
// It does not decide, filter or ship anything: the broker builds each
// Record, and the log is a local, append-only trail for the user, not a
// tamper-proof one (a same-user program can edit it).
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultMaxBytes = 10 << 20
	DefaultKeep     = 3
)

// Assurance values: how firmly the caller's process was pinned.
const (
	AssuranceFull    = "full"
	AssuranceReduced = "reduced"
)

// Record is one audit line. Its fields are strings, numbers and a time on
// purpose: no field has a type (secret.Value, any, a map) that a value
// could travel in, and a test holds the type to that.
type Record struct {
	Time time.Time `json:"time"`
	PID  int       `json:"pid,omitempty"`
	UID  uint32    `json:"uid"`
	// Path and Hash identify the program the policy was checked against
	// (the script when an interpreter ran one).
	Path string `json:"path,omitempty"`
	Hash string `json:"hash,omitempty"`
	// Script is the interpreter's executable path when Path is a script.
	Script  string   `json:"script,omitempty"`
	Service string   `json:"service,omitempty"`
	Action  string   `json:"action,omitempty"`
	Match   string   `json:"match,omitempty"`
	Targets []string `json:"targets,omitempty"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason,omitempty"`
	// Courier is keychain-auth's own CLI when it relayed the request.
	Courier *Party `json:"courier,omitempty"`
	// Assurance is AssuranceFull or AssuranceReduced.
	Assurance string `json:"assurance,omitempty"`
	// RelaxedEnv names injection variables the caller ran with that its
	// policy entry allows.
	RelaxedEnv []string `json:"relaxed_env,omitempty"`
	// Detail is a diagnostic for humans (an identity refusal, a store
	// error). Callers must never put a value in it.
	Detail string `json:"detail,omitempty"`
}

// Party is a second process involved in a request.
type Party struct {
	PID  int    `json:"pid"`
	Path string `json:"path"`
	Hash string `json:"hash"`
}

// Options tune a Log. Zero values mean the defaults.
type Options struct {
	// MaxBytes is the size past which audit.log is rotated (default 10 MiB).
	MaxBytes int64
	// Keep is how many rotated files are kept (default 3); negative keeps
	// none, so the log restarts empty at the bound.
	Keep int
}

// Log is an open audit log. Safe for concurrent use.
type Log struct {
	path string
	opts Options

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating it 0600) the log at path for appending, and
// narrows the mode of an existing file that is wider than 0600.
func Open(path string, opts Options) (*Log, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Keep == 0 {
		opts.Keep = DefaultKeep
	}
	l := &Log{path: path, opts: opts}
	if err := l.open(); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600)
	}
	if err != nil {
		_ = f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends r as one line, filling Time when zero. It rotates first
// when the line would take the file past MaxBytes (a single line larger
// than MaxBytes still gets written, alone in its file).
func (l *Log) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, ok := r.appendLine(make([]byte, 0, 512))
	if !ok {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("audit: encode: %w", err)
		}
		line = append(b, '\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit: log is closed")
	}
	var rotErr error
	if l.size > 0 && l.size+int64(len(line)) > l.opts.MaxBytes {
		if err := l.rotate(); err != nil {
			rotErr = fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if l.f == nil {
		return rotErr
	}
	// A failed rotation still writes the line (to the old file, reopened):
	// a decision is never dropped from the trail for want of a rename.
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return errors.Join(rotErr, fmt.Errorf("audit: write: %w", err))
	}
	return rotErr
}

// rotate shifts audit.log.N-1 → .N ... audit.log → .1 and starts a new
// file. The oldest is overwritten by the rename.
// Whatever fails, the log is reopened at its path so that later writes
// still land somewhere.
func (l *Log) rotate() error {
	cerr := l.f.Close()
	l.f = nil
	err := errors.Join(cerr, l.shift())
	if oerr := l.open(); oerr != nil {
		return errors.Join(err, oerr)
	}
	return err
}

// shift renames the files one step down (or removes the log when no
// rotated files are kept).
func (l *Log) shift() error {
	if l.opts.Keep < 0 {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	for i := l.opts.Keep - 1; i >= 1; i-- {
		err := os.Rename(rotated(l.path, i), rotated(l.path, i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(l.path, rotated(l.path, 1))
}

// Close closes the file; later Writes fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }
