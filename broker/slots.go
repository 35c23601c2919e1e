package broker

import (
	"sync"

	"github.com/keychain-auth/keychain-auth/auth"
)

// slotTable bounds the connections served at once, in total and per uid,
// so that no program can lock the others out by holding connections.
//
// A connection is proven once a request on it was allowed (see prove);
// until then it is shed first. When a limit is reached, the newcomer takes
// the place of an unproven connection: of its own uid when the uid is at
// its share, else of the uid holding the most; within that uid, of the
// program (executable path at accept) holding the most unproven
// connections; within that program, the oldest. A flood from one program
// therefore sheds itself, and a program that connects and asks at once
// keeps its place. Proven connections are never shed; when every
// connection in scope is proven, the newcomer is refused
// (too_many_connections).
type slotTable struct {
	max, perUID int

	mu    sync.Mutex
	slots map[*slot]struct{}
	seq   uint64
}

// slot is one served connection.
type slot struct {
	c      Conn
	owner  auth.Owner
	known  bool   // owner came from the kernel
	seq    uint64 // arrival order
	proven bool
}

func newSlotTable(max, perUID int) *slotTable {
	if perUID <= 0 || perUID > max {
		perUID = max
	}
	return &slotTable{max: max, perUID: perUID, slots: make(map[*slot]struct{})}
}

// acquire admits c, shedding an unproven connection if a limit is reached.
// It returns the new slot and the connection it shed (nil if none; the
// caller closes it), or ok false when c must be refused (sl then still
// says who it was).
func (t *slotTable) acquire(c Conn) (sl *slot, shed *slot, ok bool) {
	o, err := connOwner(c)
	sl = &slot{c: c, owner: o, known: err == nil}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.countUID(sl) >= t.perUID:
		shed = t.victim(func(s *slot) bool { return s.user() == sl.user() })
	case len(t.slots) >= t.max:
		shed = t.victim(t.fullestUID())
	}
	if (t.countUID(sl) >= t.perUID || len(t.slots) >= t.max) && shed == nil {
		return sl, nil, false
	}
	if shed != nil {
		delete(t.slots, shed)
	}
	t.seq++
	sl.seq = t.seq
	t.slots[sl] = struct{}{}
	return sl, shed, true
}

// release frees sl's place (once; a shed slot is already gone).
func (t *slotTable) release(sl *slot) {
	t.mu.Lock()
	delete(t.slots, sl)
	t.mu.Unlock()
}

// prove marks as proven the connections of the process pid of uid: one of
// its requests was allowed.
func (t *slotTable) prove(uid uint32, pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.slots {
		if s.known && s.owner.UID == uid && s.owner.PID == pid {
			s.proven = true
		}
	}
}

// uidKey groups slots by user; connections whose owner the kernel did not
// tell form one group.
type uidKey struct {
	known bool
	uid   uint32
}

func (s *slot) user() uidKey { return uidKey{s.known, s.owner.UID} }

func (t *slotTable) countUID(sl *slot) int {
	n := 0
	for s := range t.slots {
		if s.user() == sl.user() {
			n++
		}
	}
	return n
}

// fullestUID returns a filter for the uid holding the most unproven
// connections.
func (t *slotTable) fullestUID() func(*slot) bool {
	counts := map[uidKey]int{}
	var best uidKey
	for s := range t.slots {
		if !s.proven {
			counts[s.user()]++
			if counts[s.user()] > counts[best] {
				best = s.user()
			}
		}
	}
	return func(s *slot) bool { return s.user() == best }
}

// victim picks, among the unproven slots in scope, the oldest of the
// program holding the most of them; nil when there is none.
func (t *slotTable) victim(inScope func(*slot) bool) *slot {
	perProg := map[string]int{}
	for s := range t.slots {
		if !s.proven && inScope(s) {
			perProg[s.owner.Exe]++
		}
	}
	var pick *slot
	for s := range t.slots {
		if s.proven || !inScope(s) {
			continue
		}
		if pick == nil || perProg[s.owner.Exe] > perProg[pick.owner.Exe] ||
			(perProg[s.owner.Exe] == perProg[pick.owner.Exe] && s.seq < pick.seq) {
			pick = s
		}
	}
	return pick
}
