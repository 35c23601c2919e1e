package fresh

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxWatches bounds the kernel watches one Watcher places (directories and
// files together; a daemon places a few dozen). The kernel's limit is per
// user and shared with the user's other programs, so the daemon takes
// little of it; past the bound Watch refuses and its callers stat.
const maxWatches = 1024

const (
	// dirMask: an entry of the directory created, removed, renamed in or
	// out, written or changed in its attributes; the directory itself
	// removed or renamed. IN_ONLYDIR|IN_DONT_FOLLOW: a symbolic link on
	// the way is refused, not followed.
	dirMask = unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
		unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
		unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_MASK_ADD
	// fileMask: the file written, truncated, changed in its attributes
	// (mode, owner, link count, times), removed or renamed, through
	// whichever of its links.
	fileMask = unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
		unix.IN_DONT_FOLLOW | unix.IN_MASK_ADD
)

// Watcher: see the package comment.
type Watcher struct {
	fd   int
	weak Weakening
	gen  atomic.Uint64 // from 1; moves on with every relevant event and every placement
	// events counts the drains that took in a relevant event (or found
	// the descriptor failed); placements do not move it.
	events atomic.Uint64
	busy   atomic.Int32 // a drain is between reading events and moving gen
	dead   atomic.Bool  // the descriptor failed: every Check is unknown

	mu      sync.Mutex
	watches map[int32]*watch
	buf     []byte
	// placedAt: for each path Watch placed and confirmed, events as it was
	// before that placement began. While events has not moved since, no
	// change was seen on the path (every component of it watched), so its
	// watches are in place and still name the same files.
	placedAt map[string]uint64

	afterRead func() // tests: runs in a drain between reading events and moving gen
}

// watch is what one kernel watch descriptor stands for: a file (every
// event counts) and/or a directory on the way to watched files (events
// naming the next component count).
type watch struct {
	file  bool
	names map[string]bool
}

var defaultWatcher = sync.OnceValue(func() *Watcher {
	w, err := New(Weakening{})
	if err != nil {
		return nil
	}
	return w
})

// Default returns the process's Watcher, or nil when inotify is not
// available (every Check is then unknown).
func Default() *Watcher { return defaultWatcher() }

// New returns a Watcher of its own (tests; the daemon uses Default).
func New(weak Weakening) (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &Watcher{fd: fd, weak: weak, watches: map[int32]*watch{}, buf: make([]byte, 64<<10), placedAt: map[string]uint64{}}
	w.gen.Store(1)
	return w, nil
}

// Close releases the watcher's descriptor (tests; the daemon's lives as
// long as the process). Every later Check is unknown.
func (w *Watcher) Close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead.Swap(true) {
		return nil
	}
	return unix.Close(w.fd)
}

// Check returns the current Stamp: it first takes in every event the kernel
// queued before this call. One ioctl when nothing was queued.
func (w *Watcher) Check() Stamp {
	if w == nil {
		return Stamp{}
	}
	n, err := unix.IoctlGetInt(w.fd, unix.TIOCINQ) // FIONREAD: bytes of queued events
	if err == nil && n == 0 && (w.busy.Load() == 0 || w.weak.NoDrainWait) {
		// Nothing queued, and no drain has read events without yet
		// moving gen (busy is raised before the read and lowered after).
		return w.stamp()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy.Add(1)
	w.drain()
	w.busy.Add(-1)
	return w.stamp()
}

func (w *Watcher) stamp() Stamp {
	if w.dead.Load() {
		return Stamp{}
	}
	return Stamp{w: w, gen: w.gen.Load()}
}

// drain reads every queued event and moves gen once if any may concern a
// watched path. The caller holds mu.
func (w *Watcher) drain() {
	relevant := false
	for {
		n, err := unix.Read(w.fd, w.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil || n <= 0 {
			w.dead.Store(true)
			relevant = true
			break
		}
		if w.take(w.buf[:n]) {
			relevant = true
		}
	}
	if w.afterRead != nil {
		w.afterRead()
	}
	if relevant {
		w.events.Add(1)
		w.gen.Add(1)
	}
}

// take reads a buffer of events and reports whether any may concern a
// watched path: lost events, an unknown or removed watch, an event on a
// watched file or directory itself, or one naming a component of a
// watched path.
func (w *Watcher) take(b []byte) bool {
	const header = unix.SizeofInotifyEvent
	relevant := false
	for len(b) >= header {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		size := int(binary.NativeEndian.Uint32(b[12:]))
		if header+size > len(b) {
			return true // torn: treat as a change
		}
		name, _, _ := strings.Cut(string(b[header:header+size]), "\x00")
		b = b[header+size:]
		wt := w.watches[wd]
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0, wt == nil, name == "":
			relevant = true
		case wt.file || wt.names[name]:
			relevant = true
		}
		if mask&unix.IN_IGNORED != 0 {
			delete(w.watches, wd)
		}
	}
	return relevant
}

// Watch places watches for path (absolute, clean, a regular file reached
// without symbolic links) and returns a Stamp taken after they were placed:
// a stat of path made after a Check that returns a Stamp Since this one is
// covered by the watches. It refuses (false) what it cannot watch: the
// caller then stats on every request.
//
// A path placed before, on which no change has been seen since (no event
// taken in by any Check since its placement began), is not placed again:
// Watch then makes one Check and returns its Stamp.
func (w *Watcher) Watch(path string) (Stamp, bool) {
	if w == nil || !filepath.IsAbs(path) || filepath.Clean(path) != path || path == "/" {
		return Stamp{}, false
	}
	now := w.Check()
	w.mu.Lock()
	at, ok := w.placedAt[path]
	w.mu.Unlock()
	if ok && now.Known() && (at == w.events.Load() || w.weak.KeepPlacements) {
		return now, true
	}
	before := w.events.Load()
	s, ok := w.placed(func() ([]int32, bool) { return w.add(path) }, nil)
	if ok {
		w.mu.Lock()
		if len(w.placedAt) >= maxWatches {
			clear(w.placedAt)
		}
		w.placedAt[path] = before
		w.mu.Unlock()
	}
	return s, ok
}

// placed places watches with add, which returns their descriptors, lets
// check (when set) look at the path, and moves gen: Checks from then on
// are after the watches were placed, and every earlier Stamp differs from
// every later one. Placed again, the watches must land on the same
// descriptors, else the path changed while they were being placed.
func (w *Watcher) placed(add func() ([]int32, bool), check func() bool) (Stamp, bool) {
	first, ok := add()
	if !ok || (check != nil && !check()) {
		return Stamp{}, false
	}
	w.mu.Lock()
	w.gen.Add(1)
	w.mu.Unlock()
	s := w.stamp()
	again, ok := add()
	if !ok || !slices.Equal(first, again) {
		return Stamp{}, false
	}
	return s, s.Known()
}

// WatchFile watches the file at path itself, not the directories on the
// way to it: every change made to that file through any of its links (its
// content, its attributes, a link added or removed, which includes being
// renamed over or removed) moves the generation, and so does its being
// renamed. A directory above it renamed or replaced is not seen. The file
// must be want (os.SameFile, not following a final symbolic link). It
// returns the Stamp after the watch was placed; false when it cannot watch
// (callers stat).
func (w *Watcher) WatchFile(path string, want os.FileInfo) (Stamp, bool) {
	if w == nil || !filepath.IsAbs(path) || want == nil {
		return Stamp{}, false
	}
	return w.placed(func() ([]int32, bool) { return w.addFile(path) }, func() bool {
		fi, err := os.Lstat(path)
		return err == nil && os.SameFile(fi, want)
	})
}

func (w *Watcher) addFile(path string) ([]int32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead.Load() || len(w.watches) >= maxWatches {
		return nil, false
	}
	wd, ok := w.watchFileLocked(path)
	return []int32{wd}, ok
}

// watchFileLocked places the watch on the file at path itself, whichever
// link it is reached by. The caller holds mu.
func (w *Watcher) watchFileLocked(path string) (int32, bool) {
	wd, err := unix.InotifyAddWatch(w.fd, path, fileMask)
	if err != nil {
		return 0, false
	}
	w.note(int32(wd)).file = true
	return int32(wd), true
}

// add places the watches for path: every directory from / down to the
// file's own, each for the next name on the way, and the file itself. It
// returns the watch descriptors in that order.
func (w *Watcher) add(path string) ([]int32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead.Load() || len(w.watches) > maxWatches-strings.Count(path, "/")-1 {
		return nil, false
	}
	var wds []int32
	dir, rest := "/", path[1:]
	for {
		name, more, deeper := strings.Cut(rest, "/")
		// The file's own directory always; those above it unless weakened.
		if !deeper || !w.weak.NoAncestors {
			wd, err := unix.InotifyAddWatch(w.fd, dir, dirMask)
			if err != nil {
				return nil, false
			}
			w.note(int32(wd)).names[name] = true
			wds = append(wds, int32(wd))
		}
		next := filepath.Join(dir, name)
		if deeper {
			dir, rest = next, more
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(next, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil, false
		}
		if !w.weak.NoInode {
			wd, ok := w.watchFileLocked(next)
			if !ok {
				return nil, false
			}
			wds = append(wds, wd)
		}
		return wds, true
	}
}

func (w *Watcher) note(wd int32) *watch {
	wt := w.watches[wd]
	if wt == nil {
		wt = &watch{names: map[string]bool{}}
		w.watches[wd] = wt
	}
	return wt
}
