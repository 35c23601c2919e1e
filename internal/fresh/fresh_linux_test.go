package fresh

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// tree makes root/a/b/file and returns root and the file's path.
func tree(t *testing.T) (string, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "a", "b", "file")
	if err := os.WriteFile(file, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, file
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// watched returns a watcher (weakened as asked) watching file, and the
// Stamp of a Check after the watch.
func watched(t *testing.T, weak Weakening, file string) (*Watcher, Stamp) {
	t.Helper()
	w, err := New(weak)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	from, ok := w.Watch(file)
	if !ok {
		t.Fatalf("Watch(%s) refused", file)
	}
	s := w.Check()
	if !s.Since(from) || !s.Covers(w.Check()) {
		t.Fatalf("a quiet watcher moved: %+v %+v", from, s)
	}
	return w, s
}

// TestCheckSeesEveryChange: each way of changing what a watched path names
// moves the Stamp of the next Check. Canaries: a change made above the
// file's directory goes unseen without the ancestors' watches, and one made
// through another link without the file's own watch.
func TestCheckSeesEveryChange(t *testing.T) {
	changes := []struct {
		name   string
		change func(t *testing.T, root, file string)
		canary *Weakening // a watcher so weakened must miss the change
	}{
		{"renamed over", func(t *testing.T, root, file string) {
			must(t, os.WriteFile(file+".new", []byte("two"), 0o644))
			must(t, os.Rename(file+".new", file))
		}, nil},
		{"written in place", func(t *testing.T, root, file string) {
			must(t, os.WriteFile(file, []byte("two"), 0o644))
		}, nil},
		{"mode changed", func(t *testing.T, root, file string) { must(t, os.Chmod(file, 0o600)) }, nil},
		{"removed", func(t *testing.T, root, file string) { must(t, os.Remove(file)) }, nil},
		{"its directory renamed", func(t *testing.T, root, file string) {
			must(t, os.Rename(filepath.Dir(file), filepath.Join(root, "a", "old")))
		}, nil},
		{"a directory above renamed and replaced", func(t *testing.T, root, file string) {
			must(t, os.Rename(filepath.Join(root, "a"), filepath.Join(root, "a.old")))
			must(t, os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
			must(t, os.WriteFile(file, []byte("two"), 0o644))
		}, &Weakening{NoAncestors: true}},
		{"a directory above replaced by a link", func(t *testing.T, root, file string) {
			must(t, os.Rename(filepath.Join(root, "a"), filepath.Join(root, "a.old")))
			must(t, os.Symlink(filepath.Join(root, "a.old"), filepath.Join(root, "a")))
		}, &Weakening{NoAncestors: true}},
		{"a directory above made unreadable", func(t *testing.T, root, file string) {
			must(t, os.Chmod(filepath.Join(root, "a"), 0o700))
		}, &Weakening{NoAncestors: true}},
		{"changed through another link", func(t *testing.T, root, file string) {
			must(t, os.Chmod(filepath.Join(root, "link"), 0o600))
		}, &Weakening{NoInode: true}},
		{"written through another link", func(t *testing.T, root, file string) {
			must(t, os.WriteFile(filepath.Join(root, "link"), []byte("two"), 0o644))
		}, &Weakening{NoInode: true}},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			runs := []*Weakening{nil}
			if c.canary != nil {
				runs = []*Weakening{c.canary, nil}
			}
			for _, weak := range runs {
				root, file := tree(t)
				must(t, os.Link(file, filepath.Join(root, "link")))
				w, before := watched(t, deref(weak), file)
				c.change(t, root, file)
				moved := !before.Covers(w.Check())
				if weak != nil && moved {
					t.Fatalf("canary: a watcher weakened %+v saw the change", *weak)
				}
				if weak == nil && !moved {
					t.Fatal("the change went unseen")
				}
			}
		})
	}
}

func deref(w *Weakening) Weakening {
	if w == nil {
		return Weakening{}
	}
	return *w
}

// TestCheckIgnoresOtherEntries: changes to other entries of the watched
// directories (a log written beside the file) leave the Stamp as it was.
func TestCheckIgnoresOtherEntries(t *testing.T) {
	root, file := tree(t)
	w, before := watched(t, Weakening{}, file)
	for _, other := range []string{filepath.Join(root, "a", "b", "audit.log"), filepath.Join(root, "a", "x"), filepath.Join(root, "y")} {
		must(t, os.WriteFile(other, []byte("line\n"), 0o644))
		must(t, os.Remove(other))
	}
	if now := w.Check(); !before.Covers(now) {
		t.Fatalf("other entries moved the stamp: %+v -> %+v", before, now)
	}
}

// TestWatchRefuses: what cannot be watched whole is refused, so that its
// callers stat.
func TestWatchRefuses(t *testing.T) {
	root, file := tree(t)
	must(t, os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "alink")))
	must(t, os.Symlink(file, filepath.Join(root, "flink")))
	w, err := New(Weakening{})
	must(t, err)
	t.Cleanup(func() { w.Close() })
	for _, p := range []string{
		"a/b/file",              // relative
		root + "/a/../a/b/file", // not clean
		filepath.Join(root, "alink", "b", "file"), // a link on the way
		filepath.Join(root, "flink"),              // the file is a link
		filepath.Join(root, "a", "b"),             // not a regular file
		filepath.Join(root, "missing"),
		"/",
	} {
		if _, ok := w.Watch(p); ok {
			t.Errorf("Watch(%s) accepted", p)
		}
	}
	var nilW *Watcher
	if s := nilW.Check(); s.Known() {
		t.Fatal("a nil watcher's stamp is known")
	}
	if s, ok := nilW.Watch(file); ok || s.Known() {
		t.Fatal("a nil watcher watched")
	}
}

// TestCheckWaitsForADrain: a Check made while another Check has read the
// queued events but not yet moved the generation must wait for it, not
// trust the now empty queue. The interleaving is made, not hoped for: the
// first Check stops between reading and moving the generation and starts
// the second there. Canary: a Check that trusts an empty queue regardless
// returns the old stamp at once.
func TestCheckWaitsForADrain(t *testing.T) {
	for _, weak := range []bool{true, false} {
		_, file := tree(t)
		w, before := watched(t, Weakening{NoDrainWait: weak}, file)
		second := make(chan Stamp, 1)
		early := false
		w.afterRead = func() {
			w.afterRead = nil // the second Check's drain, if any, runs none
			go func() { second <- w.Check() }()
			select {
			case s := <-second:
				second <- s
				early = true
			case <-time.After(200 * time.Millisecond): // it waits, as it should
			}
		}
		must(t, os.Chmod(file, 0o600))
		if first := w.Check(); before.Covers(first) {
			t.Fatal("the first Check missed the change it drained")
		}
		got := <-second
		if weak {
			if !early || !before.Covers(got) {
				t.Fatalf("canary: the second Check should have returned the old stamp at once (early %v)", early)
			}
			continue
		}
		if early || before.Covers(got) {
			t.Fatalf("the second Check returned before the drain moved the generation (early %v), or missed the change", early)
		}
	}
}

// TestCheckRacingDrains: the same, left to the scheduler: 2,000 changes,
// each followed by a Check, while three goroutines drain the same queue.
func TestCheckRacingDrains(t *testing.T) {
	if missed := racingDrains(t, Weakening{}); missed >= 0 {
		t.Fatalf("round %d: a change made before the Check went unseen", missed)
	}
}

// racingDrains changes the file and checks, up to 2,000 times, while three
// goroutines drain; it returns the first round whose Check missed the
// change, or -1.
func racingDrains(t *testing.T, weak Weakening) int {
	_, file := tree(t)
	w, _ := watched(t, weak, file)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					w.Check()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	mode := os.FileMode(0o600)
	for i := range 2000 {
		before := w.Check()
		must(t, os.Chmod(file, mode))
		mode ^= 0o040
		if before.Covers(w.Check()) {
			return i
		}
	}
	return -1
}

// TestWatchFileSeesChangesToTheFile: a file watched alone (the vault's
// journal) moves the stamp for every change made to it whatever the path:
// appended, renamed over (its last link gone, or held open), removed,
// renamed away, its mode changed, written through another link; and, as
// its documentation says, not for a directory above it renamed (asserted,
// so that a change of that behaviour is seen).
func TestWatchFileSeesChangesToTheFile(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, root, file string)
		seen   bool
	}{
		{"appended", func(t *testing.T, root, file string) {
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			defer f.Close()
			_, err = f.Write([]byte("more"))
			must(t, err)
		}, true},
		{"renamed over", func(t *testing.T, root, file string) {
			must(t, os.WriteFile(file+".new", []byte("two"), 0o644))
			must(t, os.Rename(file+".new", file))
		}, true},
		{"renamed over while held open", func(t *testing.T, root, file string) {
			f, err := os.Open(file)
			must(t, err)
			defer f.Close()
			must(t, os.WriteFile(file+".new", []byte("two"), 0o644))
			must(t, os.Rename(file+".new", file))
		}, true},
		{"removed", func(t *testing.T, root, file string) { must(t, os.Remove(file)) }, true},
		{"renamed away", func(t *testing.T, root, file string) { must(t, os.Rename(file, file+".old")) }, true},
		{"mode changed", func(t *testing.T, root, file string) { must(t, os.Chmod(file, 0o600)) }, true},
		{"written through another link", func(t *testing.T, root, file string) {
			must(t, os.WriteFile(filepath.Join(root, "link"), []byte("two"), 0o644))
		}, true},
		{"a directory above renamed (not seen)", func(t *testing.T, root, file string) {
			must(t, os.Rename(filepath.Join(root, "a"), filepath.Join(root, "a.old")))
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, file := tree(t)
			must(t, os.Link(file, filepath.Join(root, "link")))
			w, err := New(Weakening{})
			must(t, err)
			t.Cleanup(func() { w.Close() })
			fi, err := os.Stat(file)
			must(t, err)
			if _, ok := w.WatchFile(file, mustStat(t, filepath.Join(root, "a"))); ok {
				t.Fatal("WatchFile accepted a file other than the one wanted")
			}
			from, ok := w.WatchFile(file, fi)
			if !ok {
				t.Fatal("WatchFile refused")
			}
			before := w.Check()
			if !before.Since(from) || !before.Covers(w.Check()) {
				t.Fatal("a quiet watcher moved")
			}
			c.change(t, root, file)
			if moved := !before.Covers(w.Check()); moved != c.seen {
				t.Fatalf("seen %v, want %v", moved, c.seen)
			}
		})
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return fi
}

// TestWatchAgain: a path watched again with nothing seen on it since is not
// placed again (the Stamp is the Check's, the generation unmoved). Once a
// directory above it was replaced, Watch places the watches again, on what
// the path names now: a change to the new file moves the generation.
// Canary: a watcher that never places a path twice keeps watching the old
// directory, and the change to the new file goes unseen.
func TestWatchAgain(t *testing.T) {
	for _, weak := range []bool{true, false} {
		root, file := tree(t)
		w, s := watched(t, Weakening{KeepPlacements: weak}, file)
		if again, ok := w.Watch(file); !ok || again != s {
			t.Fatalf("weak=%v: watched again with nothing changed: %+v, %v; want the same Stamp %+v", weak, again, ok, s)
		}
		must(t, os.Rename(filepath.Join(root, "a"), filepath.Join(root, "a.old")))
		must(t, os.MkdirAll(filepath.Dir(file), 0o755))
		must(t, os.WriteFile(file, []byte("new"), 0o644))
		from, ok := w.Watch(file)
		if !ok {
			t.Fatalf("weak=%v: Watch refused the new file", weak)
		}
		before := w.Check()
		must(t, os.WriteFile(file, []byte("changed"), 0o644))
		moved := !before.Covers(w.Check())
		if weak {
			if moved || from != before {
				t.Fatalf("canary: the old placement should have been kept and the new file's change missed (moved %v)", moved)
			}
			continue
		}
		if !moved {
			t.Fatal("a change to the file the path names now went unseen")
		}
	}
}
