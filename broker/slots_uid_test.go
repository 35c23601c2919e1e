//go:build linux

package broker

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestSlotTablePerUID: a uid at its cap, every one of its connections
// proven, gets no further slot (nothing of another user is shed for it);
// an unproven one of its own is shed instead when there is one; and a
// user far over the cap does not keep another user out. The newcomer is a
// real unix connection of this process's uid.
func TestSlotTablePerUID(t *testing.T) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := uint32(os.Getuid())
	fill := func(tb *slotTable, uid uint32, n int, proven bool) []*slot {
		var out []*slot
		for i := 0; i < n; i++ {
			tb.seq++
			s := &slot{known: true, seq: tb.seq, proven: proven}
			s.owner.UID, s.owner.Exe = uid, "/usr/bin/tool"
			tb.slots[s] = struct{}{}
			out = append(out, s)
		}
		return out
	}

	// Canary: without a per-uid cap the same newcomer is admitted.
	uncapped := newSlotTable(8, 0)
	fill(uncapped, me, 2, true)
	if _, _, ok := uncapped.acquire(c); !ok {
		t.Fatal("canary: without a per-uid cap the newcomer should be admitted")
	}

	full := newSlotTable(8, 2)
	fill(full, me, 2, true)
	other := fill(full, me+1, 1, false)
	if _, shed, ok := full.acquire(c); ok || shed != nil {
		t.Fatalf("a uid at its cap with proven connections got a slot (shed %+v)", shed)
	}
	if _, held := full.slots[other[0]]; !held {
		t.Fatal("another user's connection was shed for a uid at its cap")
	}

	mixed := newSlotTable(8, 2)
	fill(mixed, me, 1, true)
	own := fill(mixed, me, 1, false)
	if _, shed, ok := mixed.acquire(c); !ok || shed != own[0] {
		t.Fatalf("at its cap with an unproven connection: ok %v, shed %+v; want its own unproven one shed", ok, shed)
	}

	crowded := newSlotTable(8, 2)
	fill(crowded, me+1, 6, true)
	if _, _, ok := crowded.acquire(c); !ok {
		t.Fatal("a user holding many slots kept another user out below its cap")
	}
}
