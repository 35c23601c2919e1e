//go:build linux

package integration

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
)

// The tests in this file speak the original keychain-auth protocol the way
// its documented clients do, against the built daemon. The client is this
// test process itself (a compiled program, registered by its own path and
// hash), talking to the socket directly.

// rawConn is one connection of a client of the original protocol.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (e *env) rawDial(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", e.socket)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(line string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(line + "\n")); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

// readLine waits up to d for one line; it returns the line (without its
// newline) or the read error.
func (rc *rawConn) readLine(d time.Duration) (string, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		return l, err
	}
	return strings.TrimSuffix(l, "\n"), nil
}

func (rc *rawConn) ask(line string) string {
	rc.t.Helper()
	rc.send(line)
	l, err := rc.readLine(10 * time.Second)
	if err != nil {
		rc.t.Fatalf("no answer to %s: %v", line, err)
	}
	return l
}

// registerSelf registers this test binary and allows it everything on svc.
func (e *env) registerSelf(t *testing.T, svc string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e.mustKA("authorize", self, svc)
	return self
}

const pendingAnswer = `{"type":"RESPONSE","status":"denied","reason":"unregistered_binary_pending_approval"}`

// An unregistered client is told at once, whether it reads first (it would
// otherwise wait forever) or writes first, and the connection ends.
func TestOriginalUnregisteredReadFirstAndWriteFirst(t *testing.T) {
	e := newEnv(t)
	e.start()
	readFirst := e.rawDial(t)
	if l, err := readFirst.readLine(10 * time.Second); err != nil || l != pendingAnswer {
		t.Fatalf("read first: %q, %v; want %s", l, err, pendingAnswer)
	}
	if l, err := readFirst.readLine(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after the refusal: %q, %v; want end of stream", l, err)
	}
	writeFirst := e.rawDial(t)
	if got := writeFirst.ask(`{"type":"REQUEST","action":"read","service":"agentsecrets","targets":["api_key"]}`); got != pendingAnswer {
		t.Fatalf("write first: %s", got)
	}
	self, _ := os.Executable()
	if recs := e.pending(); len(recs) != 1 || recs[0].Hash != sha256File(t, self) {
		t.Errorf("pending = %+v, want this test binary once", recs)
	}
}

// The documented Go client's shapes: "targets":null on a search (its
// Request has no omitempty), no match key, values only on write; null for
// match, values and attributes as other encoders write them.
func TestOriginalClientShapes(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.registerSelf(t, "agentsecrets")
	rc := e.rawDial(t)
	// A registered client that reads first gets no line until it asks.
	if l, err := rc.readLine(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("registered client got %q, %v before asking", l, err)
	}
	steps := []struct{ req, want string }{
		{`{"type":"REQUEST","action":"write","service":"agentsecrets","targets":["api_key"],"values":["` + marker + `"]}`,
			`{"type":"RESPONSE","status":"success"}`},
		{`{"type":"REQUEST","action":"search","service":"agentsecrets","targets":null}`,
			`{"type":"RESPONSE","status":"success","results":[{"target":"api_key"}]}`},
		{`{"type":"REQUEST","action":"read","service":"agentsecrets","targets":["api_key"]}`,
			`{"type":"RESPONSE","status":"success","results":[{"target":"api_key","value":"` + marker + `"}]}`},
		{`{"type":"REQUEST","action":"read","service":"agentsecrets","match":null,"targets":["api_key"],"values":null,"attributes":null}`,
			`{"type":"RESPONSE","status":"success","results":[{"target":"api_key","value":"` + marker + `"}]}`},
		// Strictness stays: a case-folded key is not a second action.
		{`{"type":"REQUEST","action":"read","ACTION":"delete","service":"agentsecrets","targets":["api_key"]}`,
			`{"type":"RESPONSE","status":"error","reason":"malformed_request"}`},
		{`{"type":"REQUEST","action":"read","service":"other","targets":["api_key"]}`,
			`{"type":"RESPONSE","status":"denied","reason":"service_not_allowed"}`},
	}
	for i, s := range steps {
		if got := rc.ask(s.req); got != s.want {
			t.Errorf("step %d: %s\n got %s\nwant %s", i, s.req, got, s.want)
		}
	}
}

// Idle connections are closed without a line. A request sent around the
// idle boundary is either answered (with its own answer) or finds the
// connection closed; it is never answered by a line about something else.
// A client that finds the connection closed reconnects.
func TestOriginalIdleBoundary(t *testing.T) {
	const idle = 400 * time.Millisecond
	e := newEnv(t)
	e.start("--idle-timeout", idle.String())
	e.registerSelf(t, "svc")
	read := `{"type":"REQUEST","action":"read","service":"svc","targets":["k"]}`
	answer := `{"type":"RESPONSE","status":"success","results":[]}`

	quiet := e.rawDial(t)
	if l, err := quiet.readLine(idle + 5*time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %q, %v; want end of stream without a line", l, err)
	}

	answered, closed := 0, 0
	for _, offset := range []time.Duration{-60, -20, -5, 0, 5, 20, 60} {
		rc := e.rawDial(t)
		if got := rc.ask(read); got != answer {
			t.Fatalf("first request: %s", got)
		}
		time.Sleep(idle + offset*time.Millisecond)
		_, werr := rc.c.Write([]byte(read + "\n"))
		l, rerr := rc.readLine(5 * time.Second)
		switch {
		case werr == nil && rerr == nil:
			if l != answer {
				t.Errorf("offset %dms: answered %q, want the request's own answer", offset, l)
			}
			answered++
		case errors.Is(werr, syscall.EPIPE), errors.Is(rerr, io.EOF), errors.Is(rerr, syscall.ECONNRESET):
			if l != "" {
				t.Errorf("offset %dms: partial line %q before the close", offset, l)
			}
			closed++
			again := e.rawDial(t)
			if got := again.ask(read); got != answer {
				t.Errorf("offset %dms: after reconnecting: %s", offset, got)
			}
		default:
			t.Errorf("offset %dms: write %v, read %q, %v", offset, werr, l, rerr)
		}
	}
	t.Logf("around the idle boundary: %d answered, %d found the connection closed", answered, closed)
	if strings.Contains(e.daemonLog(), "idle_timeout") {
		t.Errorf("daemon log mentions idle_timeout:\n%s", e.daemonLog())
	}
}

// status --json carries the original's keys beside ours, with or without a
// daemon.
func TestStatusJSONOriginalKeys(t *testing.T) {
	e := newEnv(t)
	e.start()
	wantCfg := filepath.Join(e.home, ".config", "keychain-auth", "config.json")
	check := func(running bool) {
		t.Helper()
		r := e.ka("", "status", "--json")
		wantCode := 0
		if !running {
			wantCode = 6
		}
		if r.code != wantCode {
			t.Fatalf("status --json: exit %d, want %d (%s)", r.code, wantCode, r.stderr)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status --json: %v: %q", err, r.stdout)
		}
		for k, want := range map[string]any{"daemon_running": running, "running": running, "mode": "user",
			"config_path": wantCfg, "socket_path": e.socket, "requires_sudo": false} {
			if st[k] != want {
				t.Errorf("running=%v: %s = %#v, want %#v", running, k, st[k], want)
			}
		}
		if _, ok := st["version"]; !ok {
			t.Errorf("running=%v: no version key: %v", running, st)
		}
		if running && (st["version"] == "" || st["backend"] != "file" || st["endpoint"] != e.socket) {
			t.Errorf("our keys are missing: %v", st)
		}
	}
	check(true)
	e.stop()
	check(false)
}

// put refuses a value that is not UTF-8 text instead of storing it with
// its bytes replaced; nothing is stored.
func TestPutRefusesInvalidUTF8(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	script := writeScript(t, dir, "ka.sh", "#!/bin/sh\nkeychain-auth \"$@\"\n")
	e.mustKA("authorize", script, "svc")
	r := e.runIn(dir, marker+"\xff\xfe\n", script, "put", "svc", "blob")
	if r.code != 1 || !strings.Contains(r.stderr, "not valid UTF-8") || !strings.Contains(r.stderr, "nothing was stored") {
		t.Fatalf("put of invalid UTF-8: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, marker) || strings.Contains(r.stdout, marker) {
		t.Errorf("the refusal repeats the value: %q %q", r.stdout, r.stderr)
	}
	if g := e.runIn(dir, "", script, "get", "svc", "blob"); g.code != 4 {
		t.Errorf("get after the refused put: exit %d, want 4 (not found); stdout %q", g.code, g.stdout)
	}
	if r := e.runIn(dir, "caf\u00e9\n", script, "put", "svc", "text"); r.code != 0 {
		t.Errorf("put of UTF-8 text: exit %d, %s", r.code, r.stderr)
	}
}
