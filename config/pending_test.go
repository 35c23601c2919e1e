package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable time source for TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newPending(t *testing.T, max int) (*Pending, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	return &Pending{Path: filepath.Join(t.TempDir(), "cfg", PendingFile), Max: max, now: clk.now}, clk
}

func rec(c byte, argv ...string) PendingRecord {
	return PendingRecord{Path: fx("/usr/bin/p" + string(c)), Hash: testHash(c), CommandLine: argv}
}

func list(t *testing.T, p *Pending) []PendingRecord {
	t.Helper()
	recs, err := p.List()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestPendingAddListRemove(t *testing.T) {
	p, clk := newPending(t, 0)
	if got := list(t, p); len(got) != 0 {
		t.Fatalf("missing file: %v", got)
	}
	for _, c := range []byte("bac") {
		if err := p.Add(rec(c, "cmd", string(c))); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Minute)
	}
	got := list(t, p)
	if len(got) != 3 || got[0].Hash != testHash('b') || got[2].Hash != testHash('c') {
		t.Fatalf("List = %+v, want b, a, c (oldest first)", got)
	}
	if !got[0].Timestamp.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("timestamp = %v, want the clock's", got[0].Timestamp)
	}
	checkMode(t, p.Path, 0o600)
	checkMode(t, filepath.Dir(p.Path), 0o700)
	// The file uses the spec's names and RFC 3339 times.
	data, _ := os.ReadFile(p.Path)
	var raw []map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw[0]["path"] != fx("/usr/bin/pb") || fmt.Sprint(raw[0]["command_line"]) != "[cmd b]" || raw[0]["timestamp"] != "2025-06-01T12:00:00Z" || raw[0]["hash"] != testHash('b') {
		t.Errorf("record on disk = %v (command_line a list, as the original writes it)", raw[0])
	}
	// A repeat attempt updates the time and command line in place.
	if err := p.Add(PendingRecord{Path: fx("/elsewhere/pb"), Hash: testHash('b'), CommandLine: CommandLine{"again"}}); err != nil {
		t.Fatal(err)
	}
	got = list(t, p)
	if len(got) != 3 || got[2].Hash != testHash('b') || got[2].CommandLine.String() != "again" || got[2].Path != fx("/usr/bin/pb") {
		t.Fatalf("after repeat: %+v", got)
	}
	if err := p.Remove(testHash('a')); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(testHash('a')); err != nil {
		t.Fatalf("removing an absent hash: %v", err)
	}
	if got = list(t, p); len(got) != 2 || got[0].Hash != testHash('c') {
		t.Fatalf("after remove: %+v", got)
	}
}

func TestPendingTTL(t *testing.T) {
	p, clk := newPending(t, 0)
	if err := p.Add(rec('a', "")); err != nil {
		t.Fatal(err)
	}
	clk.add(23 * time.Hour)
	if err := p.Add(rec('b', "")); err != nil {
		t.Fatal(err)
	}
	if got := list(t, p); len(got) != 2 {
		t.Fatalf("at 23h: %d records", len(got))
	}
	clk.add(time.Hour)
	got := list(t, p)
	if len(got) != 1 || got[0].Hash != testHash('b') {
		t.Fatalf("at 24h: %+v, want only b", got)
	}
	// The expired record is hidden by List and dropped from the file on the next write.
	if data, _ := os.ReadFile(p.Path); !strings.Contains(string(data), testHash('a')) {
		t.Fatal("List wrote the file")
	}
	if err := p.Remove("sha256:none"); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(p.Path); strings.Contains(string(data), testHash('a')) {
		t.Fatalf("expired record still on disk after a write:\n%s", data)
	}
	// A custom TTL applies.
	p.TTL = time.Minute
	clk.add(time.Minute)
	if got := list(t, p); len(got) != 0 {
		t.Fatalf("TTL 1m: %+v", got)
	}
}

func TestPendingMax(t *testing.T) {
	p, clk := newPending(t, 3)
	for _, c := range []byte("abc") {
		if err := p.Add(rec(c, "")); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(p.Path)
	err := p.Add(rec('d', ""))
	if !errors.Is(err, ErrPendingFull) {
		t.Fatalf("fourth hash: %v, want ErrPendingFull", err)
	}
	if after, _ := os.ReadFile(p.Path); string(after) != string(before) {
		t.Fatal("a refused Add changed the file")
	}
	// A hash already queued still updates when the queue is full.
	if err := p.Add(rec('a', "retry")); err != nil {
		t.Fatalf("repeat while full: %v", err)
	}
	// Expiry makes room.
	clk.add(DefaultPendingTTL)
	if err := p.Add(rec('d', "")); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if got := list(t, p); len(got) != 1 {
		t.Fatalf("after expiry: %+v", got)
	}
}

func TestPendingRejectsBadInput(t *testing.T) {
	p, _ := newPending(t, 0)
	for _, r := range []PendingRecord{
		{Path: fx("/usr/bin/x"), Hash: "sha256:short"},
		{Path: "relative", Hash: testHash('a')},
		{Path: "", Hash: testHash('a')},
	} {
		if err := p.Add(r); err == nil {
			t.Errorf("Add(%+v) succeeded", r)
		}
	}
	if _, err := os.Stat(p.Path); !os.IsNotExist(err) {
		t.Errorf("rejected records created the file: %v", err)
	}
}

func TestPendingCommandLineCleaned(t *testing.T) {
	p, _ := newPending(t, 0)
	long := strings.Repeat("é", maxCommandLine) // 2 bytes each
	if err := p.Add(rec('a', "tool", "\x1b]0;owned\x07", "--flag\n"+long, "dropped")); err != nil {
		t.Fatal(err)
	}
	argv := list(t, p)[0].CommandLine
	got := argv.String()
	if strings.ContainsAny(got, "\x1b\x07\n") {
		t.Errorf("control characters kept: %q", got[:40])
	}
	if len(argv) != 3 || len(got) > maxCommandLine+len("…") || !strings.HasSuffix(got, "é…") || !strings.HasPrefix(got, "tool \uFFFD]0;owned\uFFFD --flag\uFFFD") {
		t.Errorf("command line = %q... (%d bytes, %d arguments)", got[:40], len(got), len(argv))
	}
}

// TestPendingOriginalFile reads a pending.json as the original keychain-auth
// writes it (command_line a list, local times with nanoseconds, null for an
// empty argv) and one of ours from before (command_line a string), and
// keeps the list form when it rewrites the file.
func TestPendingOriginalFile(t *testing.T) {
	p, _ := newPending(t, 0)
	if err := EnsureDir(filepath.Dir(p.Path)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.Path, `[
  {
    "path": "/usr/local/bin/tool",
    "hash": "`+testHash('a')+`",
    "command_line": [
      "/usr/local/bin/tool",
      "fetch",
      "--all"
    ],
    "timestamp": "2025-06-01T13:59:00.123456789+02:00"
  },
  {"path": "/usr/bin/old", "hash": "`+testHash('b')+`", "command_line": "old --flag", "timestamp": "2025-06-01T11:59:30Z"},
  {"path": "/usr/bin/bare", "hash": "`+testHash('c')+`", "command_line": null, "timestamp": "2025-06-01T11:59:40Z"}
]`)
	got := list(t, p)
	if len(got) != 3 {
		t.Fatalf("List = %+v, want 3 records", got)
	}
	if got[0].Path != "/usr/local/bin/tool" || !reflect.DeepEqual([]string(got[0].CommandLine), []string{"/usr/local/bin/tool", "fetch", "--all"}) {
		t.Errorf("original record = %+v", got[0])
	}
	if got[1].CommandLine.String() != "old --flag" || len(got[2].CommandLine) != 0 {
		t.Errorf("string and null command lines = %q, %q", got[1].CommandLine, got[2].CommandLine)
	}
	if err := p.Add(rec('d', "new", "arg")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p.Path)
	var raw []struct {
		CommandLine []string `json:"command_line"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("rewritten file: %v\n%s", err, data)
	}
	if len(raw) != 4 || len(raw[0].CommandLine) != 3 {
		t.Errorf("rewritten file = %s", data)
	}
	writeFile(t, p.Path, `[{"path":"/x","hash":"`+testHash('a')+`","command_line":[1],"timestamp":"2025-06-01T12:00:00Z"}]`)
	if _, err := p.List(); err == nil {
		t.Error("a command_line of numbers was accepted")
	}
}

func TestPendingBrokenFile(t *testing.T) {
	p, _ := newPending(t, 0)
	if err := EnsureDir(filepath.Dir(p.Path)); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{`[{"hash":`, `{"not":"a list"}`, `[{"hash":"md5:x"}]`} {
		writeFile(t, p.Path, content)
		if _, err := p.List(); err == nil || !strings.Contains(err.Error(), "remove the file") {
			t.Errorf("List on %s: %v", content, err)
		}
		if err := p.Add(rec('a')); err == nil {
			t.Errorf("Add on %s succeeded", content)
		}
		if data, _ := os.ReadFile(p.Path); string(data) != content {
			t.Errorf("broken file overwritten: %s", data)
		}
	}
	writeFile(t, p.Path, "")
	if got := list(t, p); len(got) != 0 {
		t.Errorf("empty file: %v", got)
	}
}

func TestPendingConcurrentGoroutines(t *testing.T) {
	p := &Pending{Path: filepath.Join(t.TempDir(), PendingFile), Max: 1000}
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := PendingRecord{Path: fx("/usr/bin/x"), Hash: numberedHash(w, i), CommandLine: CommandLine{"x"}}
				if err := p.Add(r); err != nil {
					t.Error(err)
					return
				}
				// Every worker also bumps one shared hash.
				if err := p.Add(PendingRecord{Path: fx("/usr/bin/shared"), Hash: testHash('f')}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := list(t, p); len(got) != workers*each+1 {
		t.Fatalf("%d records, want %d: updates were lost", len(got), workers*each+1)
	}
}

func numberedHash(w, i int) string {
	return fmt.Sprintf("sha256:%032x%032x", w+1, i+1)
}
