//go:build linux

package transport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

// fakeDaemon is a tiny in-memory server for client tests: it parses every
// line with ParseMessage (so the clients' lines must pass the strict
// decoder) and answers from a map. Service "denied" is refused; services
// "pending" and "queuefull" get the pending-approval or queue-full line and
// a closed connection, as the daemon answers an unregistered caller.
type fakeDaemon struct {
	mu    sync.Mutex
	items map[string]secret.Value
	seen  []*Request
}

func startFake(t *testing.T) (string, *fakeDaemon) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	l := listen(t, path)
	d := &fakeDaemon{items: map[string]secret.Value{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go d.serve(c)
		}
	}()
	return path, d
}

func (d *fakeDaemon) serve(c io.ReadWriteCloser) {
	defer c.Close()
	lr := NewLineReader(c, DefaultMaxLine)
	for {
		line, err := lr.ReadLine()
		if err != nil {
			return
		}
		var resp any
		req, err := ParseMessage(line, Limits{})
		switch {
		case err != nil:
			resp = &Response{Type: TypeResponse, Status: StatusError, Reason: ReasonMalformed}
		case req.Type == TypeStatus:
			resp = &StatusInfo{Type: TypeStatus, Version: "test", Backend: "memory", Endpoint: "fake", UptimeSeconds: 7}
		default:
			resp = d.answer(req)
		}
		if WriteMessage(c, resp) != nil || err != nil || (req != nil && (req.Service == "pending" || req.Service == "queuefull")) {
			return
		}
	}
}

func (d *fakeDaemon) answer(req *Request) *Response {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen = append(d.seen, req)
	ok := &Response{Type: TypeResponse, Status: StatusSuccess}
	switch req.Service {
	case "denied":
		return &Response{Type: TypeResponse, Status: StatusDenied, Reason: ReasonServiceNotAllowed}
	case "pending":
		return &Response{Type: TypeResponse, Status: StatusDenied, Reason: ReasonPendingApproval}
	case "queuefull":
		return &Response{Type: TypeResponse, Status: StatusDenied, Reason: ReasonPendingQueueFull}
	}
	switch req.Action {
	case ActionWrite:
		for i, k := range req.Targets {
			d.items[k] = req.Values[i]
		}
	case ActionDelete:
		for _, k := range req.Targets {
			delete(d.items, k)
		}
	case ActionRead:
		ok.Results = []Result{}
		for _, k := range req.Targets {
			if v, found := d.items[k]; found {
				ok.Results = append(ok.Results, Result{Target: k, Value: v, HasValue: true})
			}
		}
	case ActionSearch:
		ok.Results = []Result{}
		keys := make([]string, 0, len(d.items))
		for k := range d.items {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ok.Results = append(ok.Results, Result{Target: k})
		}
	}
	return ok
}

func (d *fakeDaemon) last() *Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[len(d.seen)-1]
}

type clientCmd func(socket, stdin string, args ...string) (stdout string, code int)

func scriptClient(t *testing.T, interp, script string) clientCmd {
	bin, err := exec.LookPath(interp)
	if err != nil {
		t.Skipf("%s not installed; cannot test %s", interp, script)
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	return func(socket, stdin string, args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{abs}, args...)...)
		cmd.Env = append(os.Environ(), EnvSocket+"="+socket)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("run %s: %v", script, err)
		}
		if errb.Len() > 0 {
			t.Logf("%s %v stderr: %s", interp, args, errb.String())
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
}

func TestReferenceClients(t *testing.T) {
	clients := map[string]func(t *testing.T) clientCmd{
		"python": func(t *testing.T) clientCmd {
			return scriptClient(t, "python3", "../clients/python/keychain_auth.py")
		},
		"node": func(t *testing.T) clientCmd { return scriptClient(t, "node", "../clients/node/keychain-auth.js") },
	}
	for name, mk := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := mk(t)
			sock, d := startFake(t)
			const value = "v\u00e9 \"q\" \\ \U0001F600\n\x00tail\n"
			if _, code := run(sock, value, "write", "svc", "k/1"); code != 0 {
				t.Fatalf("write: exit %d", code)
			}
			got := d.last()
			if got.Action != ActionWrite || !reflect.DeepEqual(got.Targets, []string{"k/1"}) ||
				len(got.Values) != 1 || got.Values[0].Reveal() != value {
				t.Fatalf("daemon saw %#v (value intact: %v)", got, len(got.Values) == 1 && got.Values[0].Reveal() == value)
			}
			if out, code := run(sock, "", "read", "svc", "k/1"); code != 0 || out != value {
				t.Errorf("read: exit %d, stdout %q, want %q", code, out, value)
			}
			run(sock, "x", "write", "svc", "k/2")
			if out, code := run(sock, "", "search", "svc"); code != 0 || out != "k/1\nk/2\n" {
				t.Errorf("search: exit %d, stdout %q", code, out)
			}
			if _, code := run(sock, "", "search", "svc", "k/"); code != 0 || d.last().Match != MatchPrefix {
				t.Errorf("search with prefix: exit %d, match %q", code, d.last().Match)
			}
			if _, code := run(sock, "", "delete", "svc", "k/1"); code != 0 {
				t.Errorf("delete: exit %d", code)
			}
			for _, tc := range []struct {
				args []string
				code int
			}{
				{[]string{"read", "svc", "k/1"}, 4},
				{[]string{"read", "denied", "k"}, 3},
				{[]string{"read", "pending", "k"}, 5},
				// Not registered either, only not queued: the exit code
				// scripts branch on is 5, as with keychain-auth get.
				{[]string{"read", "queuefull", "k"}, 5},
				{[]string{"read", "svc"}, 2},
			} {
				if out, code := run(sock, "", tc.args...); code != tc.code || out != "" {
					t.Errorf("%v: exit %d stdout %q, want exit %d and no output", tc.args, code, out, tc.code)
				}
			}
			if _, code := run(filepath.Join(t.TempDir(), "none.sock"), "", "read", "svc", "k"); code != 6 {
				t.Errorf("no daemon: exit %d, want 6", code)
			}
		})
	}
}

func TestGoClient(t *testing.T) {
	sock, d := startFake(t)
	conn, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	defer c.Close()
	const value = "MARKER\u00e9\n"
	resp, err := c.Do(&Request{Action: ActionWrite, Service: "svc", Targets: []string{"k"}, Values: []secret.Value{value},
		Attributes: map[string]string{"a": "b"}})
	if err != nil || resp.Err() != nil {
		t.Fatalf("write: %v, %v", err, resp.Err())
	}
	if got := d.last(); got.Values[0].Reveal() != value || got.Attributes["a"] != "b" {
		t.Fatalf("daemon saw %#v", got)
	}
	resp, err = c.Do(&Request{Action: ActionRead, Service: "svc", Targets: []string{"k", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{{Target: "k", Value: value, HasValue: true}}
	if !reflect.DeepEqual(resp.Results, want) {
		t.Errorf("read: got %#v, want %#v", resp.Results, want)
	}
	resp, err = c.Do(&Request{Action: ActionRead, Service: "denied", Targets: []string{"k"}})
	var rerr *ResponseError
	if err != nil || !errors.As(resp.Err(), &rerr) || rerr.Reason != ReasonServiceNotAllowed {
		t.Errorf("denied read: %v, %v", err, resp.Err())
	}
	info, err := c.Status()
	if err != nil || *info != (StatusInfo{Type: TypeStatus, Version: "test", Backend: "memory", Endpoint: "fake", UptimeSeconds: 7}) {
		t.Errorf("status: %#v, %v", info, err)
	}
}
