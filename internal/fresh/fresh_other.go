//go:build !linux

package fresh

import "os"

// Watcher is not implemented here: callers stat on every request.
type Watcher struct{}

// Default returns nil: there is no watcher on this system.
func Default() *Watcher { return nil }

// New returns nil: there is no watcher on this system.
func New(Weakening) (*Watcher, error) { return nil, nil }

// Check returns the zero Stamp (unknown).
func (w *Watcher) Check() Stamp { return Stamp{} }

// Watch reports that path is not watched.
func (w *Watcher) Watch(path string) (Stamp, bool) { return Stamp{}, false }

// WatchFile reports that path is not watched.
func (w *Watcher) WatchFile(path string, want os.FileInfo) (Stamp, bool) { return Stamp{}, false }

// Close does nothing.
func (w *Watcher) Close() error { return nil }
