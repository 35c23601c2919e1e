//go:build linux

package broker

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/config"
)

// fixture is a Server wired to real policy, pending and audit files in a
// temporary directory and to the in-memory store double. The test process
// is its own client over a socketpair, so the identity the verifier reports
// is this test binary.
type fixture struct {
	t       testing.TB
	srv     *Server
	store   backend.Store
	cfgPath string
	pending *config.Pending
	audit   string
	self    auth.Image
}

func newFixture(t testing.TB, lim Limits) *fixture {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := auth.HashFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: backend.NewMemoryDouble(), cfgPath: filepath.Join(dir, "config.json"),
		pending: &config.Pending{Path: filepath.Join(dir, "pending.json"), Max: 10, TTL: time.Hour},
		// As installed: the audit log in the data directory, apart from
		// the policy (whose directory the daemon watches).
		audit: filepath.Join(t.TempDir(), "audit.log"), self: self}
	log, err := audit.Open(f.audit, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	f.srv = New(Options{Store: f.store, Verifier: v, Policy: config.NewSource(f.cfgPath),
		Pending: f.pending, Audit: log, Limits: lim, Version: "test", Endpoint: "socketpair"})
	return f
}

// allow registers this test binary with the given permissions.
func (f *fixture) allow(read, write []string, search bool) {
	f.t.Helper()
	err := config.Update(f.cfgPath, func(c *config.Config) error {
		if i, _ := c.Find(f.self.Path); i >= 0 {
			c.RegisteredBinaries = append(c.RegisteredBinaries[:i], c.RegisteredBinaries[i+1:]...)
		}
		e := config.NewEntry(f.self.Path, f.self.Hash, time.Now())
		e.GrantRead(read...)
		e.GrantWrite(write...)
		e.CanSearch = search
		c.RegisteredBinaries = append(c.RegisteredBinaries, e)
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// client is the test's end of one connection.
type client struct {
	t    testing.TB
	conn *net.UnixConn
	r    *bufio.Reader
	done chan struct{}
}

func (f *fixture) dial() *client {
	f.t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	// A socketpair has no listener to inherit per-message credentials
	// from (auth.PrepareListener), so label the daemon's end before the
	// client writes, as the listener would.
	for _, opt := range []int{unix.SO_PASSCRED, unix.SO_PASSPIDFD} {
		if err := unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, opt, 1); err != nil {
			f.t.Fatalf("setsockopt %d: %v", opt, err)
		}
	}
	ours, theirs := fileConn(f.t, fds[0]), fileConn(f.t, fds[1])
	done := make(chan struct{})
	go func() { f.srv.ServeConn(theirs); close(done) }()
	c := &client{t: f.t, conn: ours, r: bufio.NewReader(ours), done: done}
	f.t.Cleanup(func() { ours.Close(); <-done })
	return c
}

func fileConn(t testing.TB, fd int) *net.UnixConn {
	t.Helper()
	file := os.NewFile(uintptr(fd), "socketpair")
	defer file.Close()
	c, err := net.FileConn(file)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn)
}

// ask sends one line and returns the answer line without its newline.
func (c *client) ask(line string) string {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\n")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.answer()
}

func (c *client) answer() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read answer: %v", err)
	}
	return strings.TrimSuffix(l, "\n")
}

// closed reports whether the server ended the connection.
func (c *client) closed() bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

const (
	okLine      = `{"type":"RESPONSE","status":"success"}`
	malformed   = `{"type":"RESPONSE","status":"error","reason":"malformed_request"}`
	notAllowed  = `{"type":"RESPONSE","status":"denied","reason":"service_not_allowed"}`
	notInPolicy = `{"type":"RESPONSE","status":"denied","reason":"action_not_in_policy"}`
	pendingLine = `{"type":"RESPONSE","status":"denied","reason":"unregistered_binary_pending_approval"}`
)

func TestProtocolTable(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow([]string{"app", "ro"}, []string{"app"}, false)
	c := f.dial()
	steps := []struct{ req, want string }{
		{`{"type":"REQUEST","action":"write","service":"app","targets":["db","api"],"values":["p1",""],"attributes":{"env":"prod"}}`, okLine},
		{`{"type":"REQUEST","action":"read","service":"app","targets":["db","missing","api"]}`,
			`{"type":"RESPONSE","status":"success","results":[{"target":"db","value":"p1","attributes":{"env":"prod"}},{"target":"api","value":"","attributes":{"env":"prod"}}]}`},
		{`{"type":"REQUEST","action":"read","service":"app","targets":["missing"]}`, `{"type":"RESPONSE","status":"success","results":[]}`},
		{`{"type":"REQUEST","action":"read","service":"app","match":"prefix","targets":["d"]}`, notInPolicy},
		{`{"type":"REQUEST","action":"search","service":"app"}`, notInPolicy},
		{`{"type":"REQUEST","action":"read","service":"other","targets":["db"]}`, notAllowed},
		{`{"type":"REQUEST","action":"write","service":"ro","targets":["x"],"values":["y"]}`, notAllowed},
		{`{"type":"REQUEST","action":"delete","service":"ro","targets":["x"]}`, notAllowed},
		{`{"type":"REQUEST","action":"delete","service":"app","targets":["db","never-there"]}`, okLine},
		{`{"type":"REQUEST","action":"read","service":"app","targets":["db"]}`, `{"type":"RESPONSE","status":"success","results":[]}`},
		// Case-folded and duplicate keys must not turn a read into a delete.
		{`{"type":"REQUEST","action":"read","ACTION":"delete","service":"app","targets":["api"]}`, malformed},
		{`{"type":"REQUEST","action":"read","action":"delete","service":"app","targets":["api"]}`, malformed},
		{`{"type":"REQUEST","action":"write","service":"app","targets":["a","b"],"values":["1"]}`, malformed},
		{`{"type":"REQUEST","action":"write","service":"app","match":"prefix","targets":["a"],"values":["1"]}`, malformed},
		{`not json`, malformed},
		// The connection survived every malformed line above.
		{`{"type":"REQUEST","action":"read","service":"app","targets":["api"]}`,
			`{"type":"RESPONSE","status":"success","results":[{"target":"api","value":"","attributes":{"env":"prod"}}]}`},
	}
	for i, s := range steps {
		if got := c.ask(s.req); got != s.want {
			t.Errorf("step %d: %s\n got %s\nwant %s", i, s.req, got, s.want)
		}
	}
}

func TestPrefixAndSearch(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow([]string{"app"}, []string{"app"}, true)
	c := f.dial()
	c.ask(`{"type":"REQUEST","action":"write","service":"app","targets":["a/1","a/2","b/1"],"values":["x","y","z"]}`)
	if got, want := c.ask(`{"type":"REQUEST","action":"read","service":"app","match":"prefix","targets":["a/","a/1"]}`),
		`{"type":"RESPONSE","status":"success","results":[{"target":"a/1","value":"x"},{"target":"a/2","value":"y"}]}`; got != want {
		t.Errorf("overlapping prefix read:\n got %s\nwant %s", got, want)
	}
	if got, want := c.ask(`{"type":"REQUEST","action":"search","service":"app"}`),
		`{"type":"RESPONSE","status":"success","results":[{"target":"a/1"},{"target":"a/2"},{"target":"b/1"}]}`; got != want {
		t.Errorf("search never returns values:\n got %s\nwant %s", got, want)
	}
	if got := c.ask(`{"type":"REQUEST","action":"delete","service":"app","match":"prefix","targets":["a/"]}`); got != okLine {
		t.Errorf("prefix delete: %s", got)
	}
	if got, want := c.ask(`{"type":"REQUEST","action":"search","service":"app","targets":["a"]}`),
		`{"type":"RESPONSE","status":"success","results":[]}`; got != want {
		t.Errorf("after prefix delete: %s", got)
	}
}

func TestUnregisteredIsQueuedAndClosed(t *testing.T) {
	f := newFixture(t, Limits{})
	c := f.dial()
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["db"]}`); got != pendingLine {
		t.Fatalf("unregistered: %s", got)
	}
	if !c.closed() {
		t.Error("connection stays open after the unregistered denial")
	}
	recs, err := f.pending.List()
	if err != nil || len(recs) != 1 || recs[0].Path != f.self.Path || recs[0].Hash != f.self.Hash {
		t.Fatalf("pending = %+v, %v; want this test binary", recs, err)
	}
}

func TestPendingQueueBound(t *testing.T) {
	f := newFixture(t, Limits{})
	f.pending.Max = 1
	if err := f.pending.Add(config.PendingRecord{Path: "/usr/bin/other", Hash: "sha256:" + strings.Repeat("0", 64), Timestamp: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := f.dial()
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["db"]}`); got != `{"type":"RESPONSE","status":"denied","reason":"pending_queue_full"}` {
		t.Fatalf("full queue: %s", got)
	}
}

func TestPolicyChangeAppliesToNextRequest(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow([]string{"app"}, nil, false)
	c := f.dial()
	read := `{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`
	if got := c.ask(read); !strings.Contains(got, `"success"`) {
		t.Fatalf("before revoke: %s", got)
	}
	f.allow(nil, nil, false)
	if got := c.ask(read); got != notAllowed {
		t.Fatalf("after revoke on the same connection: %s", got)
	}
}

func TestLineLimit(t *testing.T) {
	f := newFixture(t, Limits{MaxLine: 256})
	f.allow([]string{"app"}, []string{"app"}, false)
	c := f.dial()
	long := `{"type":"REQUEST","action":"write","service":"app","targets":["k"],"values":["` + strings.Repeat("v", 300) + `"]}`
	if got := c.ask(long); got != malformed {
		t.Fatalf("over-long line: %s", got)
	}
	if !c.closed() {
		t.Error("connection stays open after an over-long line")
	}
	if _, err := f.store.Get("app", "k"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("over-long write was applied: %v", err)
	}
}

func TestTargetLimit(t *testing.T) {
	f := newFixture(t, Limits{MaxTargets: 3})
	f.allow([]string{"app"}, nil, false)
	c := f.dial()
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["a","b","c","d"]}`); got != malformed {
		t.Errorf("4 targets over a limit of 3: %s", got)
	}
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["a","b","c"]}`); !strings.Contains(got, "success") {
		t.Errorf("3 targets at a limit of 3: %s", got)
	}
}

func TestConnectionLimit(t *testing.T) {
	f := newFixture(t, Limits{MaxConns: 2})
	f.allow([]string{"app"}, nil, false)
	a, b := f.dial(), f.dial()
	read := `{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`
	a.ask(read) // both slots are now surely taken
	b.ask(read)
	third := f.dial()
	if got := third.answer(); got != `{"type":"RESPONSE","status":"error","reason":"too_many_connections"}` {
		t.Fatalf("third connection: %s", got)
	}
	a.conn.Close()
	<-a.done
	fourth := f.dial()
	if got := fourth.ask(read); !strings.Contains(got, "success") {
		t.Errorf("after a slot freed: %s", got)
	}
}

// An idle connection is closed without a line: a line sent unprompted
// would be taken as the answer to a request the client is sending.
func TestIdleTimeoutClosesSilently(t *testing.T) {
	f := newFixture(t, Limits{IdleTimeout: 200 * time.Millisecond})
	f.allow([]string{"app"}, nil, false)
	c := f.dial()
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`); !strings.Contains(got, "success") {
		t.Fatalf("before idling: %s", got)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	rest, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("idle connection: %v after %v (want a clean end of stream)", err, time.Since(start))
	}
	if len(rest) != 0 {
		t.Errorf("idle connection got an unprompted line: %q", rest)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

// A caller that is not in the policy is refused as soon as it connects,
// before it writes anything: a client that reads first sees the reason
// instead of waiting. It is queued, and the connection closed.
func TestUnregisteredRefusedAtConnect(t *testing.T) {
	f := newFixture(t, Limits{IdleTimeout: time.Minute})
	c := f.dial()
	if got := c.answer(); got != pendingLine {
		t.Fatalf("unregistered, read first: %q, want %s", got, pendingLine)
	}
	if !c.closed() {
		t.Error("connection stays open after the refusal at connect")
	}
	recs, err := f.pending.List()
	if err != nil || len(recs) != 1 || recs[0].Hash != f.self.Hash {
		t.Fatalf("pending = %+v, %v; want this test binary", recs, err)
	}
	if b, _ := os.ReadFile(f.audit); !strings.Contains(string(b), `"reason":"unregistered_binary_pending_approval"`) {
		t.Errorf("refusal at connect not audited:\n%s", b)
	}
}

// A registered caller that reads first gets nothing until it asks: the
// daemon writes a line only in answer to a request.
func TestRegisteredReadFirstGetsNoLine(t *testing.T) {
	f := newFixture(t, Limits{IdleTimeout: time.Minute})
	f.allow([]string{"app"}, nil, false)
	c := f.dial()
	_ = c.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := c.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("registered caller got %q, %v before asking anything", b, err)
	}
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`); got != `{"type":"RESPONSE","status":"success","results":[]}` {
		t.Errorf("then asked: %s", got)
	}
}

// A handler that starts after shutdown began (accepted just before the
// listener closed) must not keep the daemon waiting for its idle timeout.
func TestConnectionAfterShutdownIsClosed(t *testing.T) {
	f := newFixture(t, Limits{IdleTimeout: time.Minute})
	f.srv.closeAll()
	c := f.dial()
	if !c.closed() {
		t.Error("a connection served after closeAll stayed open")
	}
}

// failingStore fails every call with an error that must stay in the log.
type failingStore struct{ backend.Store }

var errDisk = errors.New("disk on fire at /secret/path")

func (failingStore) Get(string, string) (backend.Item, error) { return backend.Item{}, errDisk }
func (failingStore) Set(string, []backend.Item) error         { return errDisk }

func TestStoreFailureRevealsNothing(t *testing.T) {
	f := newFixture(t, Limits{})
	f.srv.opt.Store = failingStore{f.store}
	f.allow([]string{"app"}, []string{"app"}, false)
	c := f.dial()
	want := `{"type":"RESPONSE","status":"error","reason":"internal_error"}`
	if got := c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`); got != want {
		t.Errorf("read on a failing store: %s", got)
	}
	if got := c.ask(`{"type":"REQUEST","action":"write","service":"app","targets":["k"],"values":["v"]}`); got != want {
		t.Errorf("write on a failing store: %s", got)
	}
}

func TestAuditNeverHoldsValues(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow([]string{"app"}, []string{"app"}, false)
	c := f.dial()
	const value = "audit-canary-94f1"
	c.ask(`{"type":"REQUEST","action":"write","service":"app","targets":["k"],"values":["` + value + `"]}`)
	c.ask(`{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`)
	c.ask(`{"type":"REQUEST","action":"read","service":"nope","targets":["k"]}`)
	b, err := os.ReadFile(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), value) {
		t.Fatalf("audit log holds a value:\n%s", b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("audit has %d lines, want one per decision:\n%s", len(lines), b)
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"status": "denied", "reason": "service_not_allowed", "service": "nope", "action": "read", "path": f.self.Path, "hash": f.self.Hash} {
		if last[k] != want {
			t.Errorf("audit %s = %v, want %v", k, last[k], want)
		}
	}
	if last["pid"] != float64(os.Getpid()) {
		t.Errorf("audit pid = %v, want %d", last["pid"], os.Getpid())
	}
}

func TestStatusMessage(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow(nil, nil, false) // a program that is not keychain-auth's CLI must be registered to connect
	c := f.dial()
	var st map[string]any
	if err := json.Unmarshal([]byte(c.ask(`{"type":"STATUS"}`)), &st); err != nil {
		t.Fatal(err)
	}
	if st["type"] != "STATUS" || st["version"] != "test" || st["endpoint"] != "socketpair" || st["backend"] == "" {
		t.Errorf("status = %v", st)
	}
}

func TestBrokenPolicyAllowsNothingAndQueuesNothing(t *testing.T) {
	f := newFixture(t, Limits{})
	f.allow([]string{"app"}, nil, false)
	c := f.dial()
	read := `{"type":"REQUEST","action":"read","service":"app","targets":["k"]}`
	if got := c.ask(read); !strings.Contains(got, "success") {
		t.Fatalf("before the edit: %s", got)
	}
	if err := os.WriteFile(f.cfgPath, []byte(`{"registered_binaries":[{"path":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := c.ask(read); got != `{"type":"RESPONSE","status":"error","reason":"internal_error"}` {
		t.Fatalf("with a broken policy file: %s", got)
	}
	if recs, _ := f.pending.List(); len(recs) != 0 {
		t.Errorf("a broken policy queued the caller: %+v", recs)
	}
}
