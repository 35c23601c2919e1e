package backend

import (
	"os"
	"sync"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// StampedReads is a Store whose reads first check that no other process
// changed it, and that can skip that check for one request while the
// process's watcher (internal/fresh) has seen no change since the check
// last passed. ReadsAt returns the store for the reads of a request after
// which now was taken (auth.Peer.Fresh); the daemon uses it when the store
// has it.
type StampedReads interface {
	ReadsAt(now fresh.Stamp) Store
}

// ReadsAt is the vault for one request's reads: Get and List skip the stat
// of the journal while now shows no change to the journal file since a
// stat found it to be the one this process last read or wrote. Everything
// else is the vault's.
func (v *Vault) ReadsAt(now fresh.Stamp) Store { return vaultAt{v, now} }

type vaultAt struct {
	*Vault
	now fresh.Stamp
}

func (a vaultAt) Get(service, key string) (Item, error) { return a.get(a.now, service, key) }

func (a vaultAt) List(service, prefix string, withValues bool) ([]Item, error) {
	return a.list(a.now, service, prefix, withValues)
}

// journalWatch: the watch on the journal file that lets a read skip its
// stat. Reads hold only the vault's read lock, so it has a lock of its own.
//
// The file alone is watched (fresh.WatchFile), not its directory, which
// also holds the audit log, written on every request: a change to the
// journal through any link, its replacement by a rename (a link of it
// goes) and its removal all show on the file. A directory above the vault
// renamed does not; the vault is not followed there in any case.
type journalWatch struct {
	mu    sync.Mutex
	disk  os.FileInfo // the journal the watch is on (a v.j.disk)
	from  fresh.Stamp // taken after the watch was placed
	clean fresh.Stamp // taken before the last stat that found disk unchanged
}

// covers reports whether the journal is still disk for a request after
// which now was taken: nothing watched changed since a stat found it so.
func (jw *journalWatch) covers(disk os.FileInfo, now fresh.Stamp) bool {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	return jw.disk == disk && jw.clean.Covers(now)
}

// seen is told that a stat made after now found the journal to be
// v.j.disk. A new disk gets a new watch (and needs one more stat, after
// it, before reads skip theirs); else now becomes the clean stamp.
func (jw *journalWatch) seen(v *Vault, now fresh.Stamp) {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	if jw.disk != v.j.disk {
		jw.disk, jw.clean = v.j.disk, fresh.Stamp{}
		jw.from, _ = v.watcher.WatchFile(v.journalPath, v.j.disk)
		return
	}
	if now.Since(jw.from) {
		jw.clean = now
	}
}
