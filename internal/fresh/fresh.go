// Package fresh lets the daemon skip the stat(2) it makes on every request
// to learn whether a file changed (the policy file; the vault's journal;
// the image and the script of a kept connection's program), at the price
// of one cheaper system call per request shared by all of them.
//
// A Watcher asks the kernel (inotify, Linux) to queue an event whenever an
// entry on a watched path is created, removed, renamed, written or has its
// attributes changed, in the file's directory or in any directory above it,
// and on the file itself whichever link it is reached by. The kernel queues
// the event inside the system call that makes the change, so a Check made
// after a request was received sees every change made before it was sent.
// Check drains the queue and returns the watcher's generation, which moves
// on with every event that may concern a watched path (and whenever events
// were lost).
//
// A caller records the Stamp of a Check taken before a stat that found its
// file unchanged; while later Checks return that same Stamp, the file is as
// that stat found it and the stat can be skipped. The zero Stamp means
// "unknown": the caller must stat. Stamps of different watchers never
// compare equal. A nil *Watcher (no inotify, or not Linux) returns the zero
// Stamp from every Check.
//
// What it cannot see: a mount placed over a watched path (root's doing,
// whom the daemon trusts anyway), and paths with symbolic links in them
// (Watch refuses those; their callers stat on every request, as before).
package fresh

// Stamp is a generation of one Watcher; the zero Stamp is unknown.
type Stamp struct {
	w   *Watcher
	gen uint64
}

// Known reports whether s is a real generation.
func (s Stamp) Known() bool { return s.w != nil && s.gen != 0 }

// Covers reports whether nothing watched has changed between the Check
// that returned s and the one that returned now (both known, same watcher,
// same generation).
func (s Stamp) Covers(now Stamp) bool { return s.Known() && s == now }

// Since reports whether s was taken after the Check or Watch that returned
// from: a stat made after s is covered by the watches that from's Watch
// placed.
func (s Stamp) Since(from Stamp) bool {
	return s.Known() && from.Known() && s.w == from.w && s.gen >= from.gen
}

// Weakening switches off parts of a Watcher, for the canaries of the tests
// that show each part is needed. Never set outside tests.
type Weakening struct {
	NoAncestors    bool // watch only the file's own directory, not those above it
	NoInode        bool // do not watch the file itself (a change through another link goes unseen)
	NoDrainWait    bool // Check trusts an empty queue even while another drain has not yet moved the generation
	KeepPlacements bool // a path placed once is not placed again, whatever changed on it since
}
