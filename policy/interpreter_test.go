package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// TestInterpreterPin: a script entry that pins its interpreter admits the
// script only under that interpreter, with exactly those options. Canary:
// the same runs against the entry without the pin (as registered before
// the field existed) are all admitted.
func TestInterpreterPin(t *testing.T) {
	h := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	script := auth.Image{Path: "/home/u/bin/tool.py", Hash: h("a")}
	python := auth.Image{Path: "/usr/bin/python3.11", Hash: h("b")}
	entry := config.NewEntry(script.Path, script.Hash, time.Unix(0, 0))
	entry.GrantRead("tool")
	pin := &config.Interpreter{Path: python.Path, Options: []string{"-I"}}
	run := func(exe auth.Image, opts ...string) *auth.Identity {
		s := script
		return &auth.Identity{Exe: exe, Script: &s, ScriptOptions: opts}
	}
	other := auth.Image{Path: "/home/u/.local/bin/python3", Hash: h("c")}
	changed := auth.Image{Path: python.Path, Hash: h("d")}
	cases := []struct {
		name   string
		id     *auth.Identity
		hashed bool // pin the interpreter by hash too
		reason string
	}{
		{"as registered", run(python, "-I"), false, ""},
		{"without -I", run(python), false, transport.ReasonInterpreterOptionsMismatch},
		{"with an option added", run(python, "-I", "-u"), false, transport.ReasonInterpreterOptionsMismatch},
		{"another interpreter", run(other, "-I"), false, transport.ReasonInterpreterMismatch},
		{"upgraded root-owned interpreter, pinned by path", run(changed, "-I"), false, ""},
		{"changed interpreter, pinned by hash", run(changed, "-I"), true, transport.ReasonInterpreterMismatch},
		{"hash-pinned, unchanged", run(python, "-I"), true, ""},
	}
	req := &transport.Request{Type: transport.TypeRequest, Action: transport.ActionRead, Service: "tool", Match: transport.MatchExact, Targets: []string{"k"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			legacy := entry
			legacy.Interpreter = nil
			cfg := &config.Config{ProtocolVersion: "1", RegisteredBinaries: []config.Entry{legacy}}
			if d := Decide(cfg, c.id, req); !d.Allowed {
				t.Fatalf("canary: the entry without a pin should admit every run, got %s", d.Reason)
			}
			pinned := entry
			p := *pin
			if c.hashed {
				p.Hash = python.Hash
			}
			pinned.Interpreter = &p
			cfg = &config.Config{ProtocolVersion: "1", RegisteredBinaries: []config.Entry{pinned}}
			d := Decide(cfg, c.id, req)
			if d.Reason != c.reason {
				t.Fatalf("reason %q, want %q (hint %q)", d.Reason, c.reason, d.Hint)
			}
			if c.reason != "" && !strings.Contains(d.Hint, script.Path) {
				t.Fatalf("hint does not name the script: %q", d.Hint)
			}
		})
	}
}
