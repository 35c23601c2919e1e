//go:build linux

package broker

import (
	"io"
	"strings"
	"testing"
	"time"
)

// waitSlots waits until the server holds n connections.
func waitSlots(t *testing.T, s *Server, n int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		s.slots.mu.Lock()
		got := len(s.slots.slots)
		s.slots.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("server never held %d connections", n)
}

// TestConnectionShedding: at the limit, a newcomer takes the place of the
// oldest connection on which nothing was allowed yet; a connection that had
// a request allowed keeps its place, and when every place is held that way
// the newcomer is refused.
func TestConnectionShedding(t *testing.T) {
	f := newFixture(t, Limits{MaxConns: 2})
	f.allow([]string{"app"}, nil, false)
	read := `{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`
	idle1 := f.dial()
	waitSlots(t, f.srv, 1)
	idle2 := f.dial()
	waitSlots(t, f.srv, 2)
	asker := f.dial()
	if got := asker.ask(read); !strings.Contains(got, "success") {
		t.Fatalf("newcomer at the limit: %s, want it served", got)
	}
	select {
	case <-idle1.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the oldest idle connection was not shed")
	}
	if _, err := idle1.r.ReadByte(); err != io.EOF {
		t.Errorf("shed connection read: %v, want EOF", err)
	}
	if got := idle2.ask(read); !strings.Contains(got, "success") {
		t.Fatalf("the younger idle connection: %s, want it still served", got)
	}
	// Both places are now proven: a third is refused, nobody is shed.
	if got := f.dial().answer(); !strings.Contains(got, "too_many_connections") {
		t.Fatalf("third connection with both places proven: %s", got)
	}
	if got := asker.ask(read); !strings.Contains(got, "success") {
		t.Errorf("proven connection after a refused newcomer: %s", got)
	}
}

// TestSlotVictimIsFullestProgram: the connection shed is the oldest of the
// program holding the most unproven connections, and of the uid holding
// the most when the daemon is full.
func TestSlotVictimIsFullestProgram(t *testing.T) {
	tb := newSlotTable(4, 0)
	add := func(uid uint32, exe string, proven bool) *slot {
		tb.seq++
		s := &slot{known: true, seq: tb.seq, proven: proven}
		s.owner.UID, s.owner.Exe = uid, exe
		tb.slots[s] = struct{}{}
		return s
	}
	legit := add(1000, "/usr/bin/tool", false)
	flood1 := add(1000, "/tmp/flood", false)
	add(1000, "/tmp/flood", false)
	add(1000, "/usr/bin/old", true)
	if v := tb.victim(tb.fullestUID()); v != flood1 || v == legit {
		t.Errorf("victim %+v, want the flood's oldest", v)
	}
	other := newSlotTable(4, 2)
	for _, uid := range []uint32{1, 2, 2} {
		other.seq++
		s := &slot{known: true, seq: other.seq}
		s.owner.UID = uid
		other.slots[s] = struct{}{}
	}
	if v := other.victim(other.fullestUID()); v == nil || v.owner.UID != 2 {
		t.Errorf("victim %+v, want one of uid 2's", v)
	}
}
