package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// racyWindow is how recent a file's modification time may be for its
// stat key to be trusted. File systems stamp times with a coarse clock
// (a few milliseconds on Linux), so an in-place rewrite of the same size
// right after a load could leave every stat field unchanged; a file
// changed this recently is therefore re-read on every call until it has
// aged, the way git treats "racily clean" index entries.
var racyWindow = 2 * time.Second

// Source serves the current policy to the daemon, one call per request.
// Current costs one stat(2) while the file is unchanged (CurrentAt none,
// while the watcher has seen no change); it re-reads the file only when its
// identity or stamps change, so an edit (by Update or by hand) takes effect
// on the next request without a restart.
//
// A file that fails to parse or validate denies everything: Current
// returns an error (wrapping ErrInvalid) and no Config until the file is
// fixed. It does not keep serving the last good policy, because the
// likeliest broken edit is a hand edit that revokes something, and
// keeping the old policy would leave that permission in force with no
// sign of it. A missing or empty file is an empty policy (nothing
// registered). Safe for concurrent use.
type Source struct {
	path    string
	watcher *fresh.Watcher

	mu       sync.Mutex
	loaded   bool
	key      fileKey
	racy     bool
	cfg      *Config
	raw      []byte // the bytes cfg (or err) came from
	err      error  // non-nil while the file on disk is invalid
	reported bool   // err has been returned once in full

	// The watcher (internal/fresh) lets CurrentAt skip the stat: watchFrom
	// is the Stamp of the watches placed after the last reload (unknown
	// when the path could not be watched), clean the Stamp of the Check
	// that preceded the last stat finding the file unchanged.
	watchFrom, clean fresh.Stamp
	stats            int // stat calls made, for tests
}

// NewSource returns a Source for the policy file at path. It reads
// nothing until the first Current.
func NewSource(path string) *Source {
	return &Source{path: path, watcher: fresh.Default()}
}

// CurrentAt is Current for a request after which the caller checked the
// process's watcher (auth.Peer.Fresh): while nothing watched has changed
// since a stat found the file unchanged, it answers without a stat. An
// unknown stamp, one of another watcher, a file not watched, or one
// changed within racyWindow take Current's path.
func (s *Source) CurrentAt(now fresh.Stamp) (*Config, error) {
	s.mu.Lock()
	if s.loaded && !s.racy && s.err == nil && s.clean.Covers(now) {
		cfg := s.cfg
		s.mu.Unlock()
		return cfg, nil
	}
	s.mu.Unlock()
	return s.current(now)
}

// Current returns the policy as the file says now. On the first call
// after the file became invalid the error carries the parse or
// validation detail, for the daemon log; later calls, while the file
// stays unchanged, return a shorter error that still wraps ErrInvalid.
// Either way the Config is nil and the caller denies. A file that cannot
// be stat'ed or read is an error on every call.
func (s *Source) Current() (*Config, error) { return s.current(fresh.Stamp{}) }

func (s *Source) current(now fresh.Stamp) (*Config, error) {
	// The stat runs outside the lock, so that concurrent requests do not
	// queue behind each other's system call. A key read before another
	// caller's reload differs from the key it recorded and costs one more
	// reload of the current file; a request whose stat preceded an edit is
	// answered as it would have been had it come before the edit.
	k, err := statPath(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats++
	if err != nil {
		return nil, fmt.Errorf("config source: %w", err)
	}
	if !s.loaded || s.racy || k != s.key {
		if err := s.reload(); err != nil {
			return nil, fmt.Errorf("config source: %w", err)
		}
		s.clean, s.watchFrom = fresh.Stamp{}, fresh.Stamp{}
		if !k.missing {
			s.watchFrom, _ = s.watcher.Watch(s.path)
		}
	} else if now.Since(s.watchFrom) {
		// The stat above came after now's Check, and the watches were in
		// place before it.
		s.clean = now
	}
	if s.err == nil {
		return s.cfg, nil
	}
	if !s.reported {
		s.reported = true
		return nil, s.err
	}
	return nil, fmt.Errorf("%w: %s is still invalid (unchanged since the error reported earlier)", ErrInvalid, s.path)
}

// reload reads the file through one descriptor, so the key it records
// belongs to the bytes it parsed. I/O errors leave the state untouched
// and are returned; parse errors become the Source's state.
func (s *Source) reload() error {
	data, k, err := readKeyed(s.path)
	if err != nil {
		return err
	}
	s.racy = !k.missing && time.Since(k.modTime()) < racyWindow
	if s.loaded && bytes.Equal(data, s.raw) {
		// Re-read while racy, or touched: the same bytes parse the same.
		s.key = k
		return nil
	}
	cfg, perr := Parse(data)
	if perr != nil {
		perr = fmt.Errorf("load %s: %w", s.path, perr)
		if s.err == nil || s.err.Error() != perr.Error() {
			s.reported = false
		}
	}
	s.loaded, s.key, s.cfg, s.err, s.raw = true, k, cfg, perr, data
	return nil
}

func statPath(path string) (fileKey, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileKey{missing: true}, nil
	}
	if err != nil {
		return fileKey{}, err
	}
	return keyOf(fi), nil
}

func readKeyed(path string) ([]byte, fileKey, error) {
	f, err := atomicfile.Open(path) // waits out a replace in progress on Windows
	if errors.Is(err, os.ErrNotExist) {
		return nil, fileKey{missing: true}, nil
	}
	if err != nil {
		return nil, fileKey{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileKey{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fileKey{}, err
	}
	return data, keyOf(fi), nil
}

// fileKey identifies one version of a file: which file (device, inode)
// and its stamps. The per-OS keyOf fills what the OS offers.
type fileKey struct {
	missing    bool
	dev, ino   uint64
	size       int64
	mtimeNanos int64
	ctimeNanos int64
}

func (k fileKey) modTime() time.Time {
	m := time.Unix(0, k.mtimeNanos)
	if c := time.Unix(0, k.ctimeNanos); c.After(m) {
		return c
	}
	return m
}
