package policy

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

func hash(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// fixture makes a Unix-style fixture path absolute on this OS (on Windows
// C:\usr\local\bin\tool), so that the fixtures pass config's check for
// absolute paths everywhere.
func fixture(p string) string {
	if runtime.GOOS == "windows" {
		return `C:` + filepath.FromSlash(p)
	}
	return p
}

// js is s as a JSON string (a Windows path has backslashes to escape).
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var (
	tool      = auth.Image{Path: fixture("/usr/local/bin/tool"), Hash: hash('a')}
	searcher  = auth.Image{Path: fixture("/usr/local/bin/searcher"), Hash: hash('b')}
	script    = auth.Image{Path: fixture("/home/u/bin/deploy.sh"), Hash: hash('c')}
	bash      = auth.Image{Path: fixture("/usr/bin/bash"), Hash: hash('d')}
	courier   = auth.Image{Path: fixture("/usr/local/bin/keychain-auth"), Hash: hash('e')}
	preloaded = auth.Image{Path: fixture("/usr/local/bin/preloaded"), Hash: hash('f')}
)

// testConfig is parsed from JSON, the way the daemon gets it.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"protocol_version":"1","registered_binaries":[
	 {"path":` + js(tool.Path) + `,"hash":"` + tool.Hash + `",
	  "allowed_read_services":["tool","shared"],"allowed_write_services":["tool"],"can_search":false},
	 {"path":` + js(searcher.Path) + `,"hash":"` + searcher.Hash + `",
	  "allowed_read_services":["idx"],"allowed_write_services":["idx","wonly"],"can_search":true},
	 {"path":` + js(script.Path) + `,"hash":"` + script.Hash + `",
	  "allowed_read_services":["deploy"],"allowed_write_services":[]},
	 {"path":` + js(preloaded.Path) + `,"hash":"` + preloaded.Hash + `",
	  "allowed_read_services":["p"],"allowed_write_services":["p"],"allow_env":["LD_PRELOAD","PYTHONPATH"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func as(img auth.Image) *auth.Identity { return &auth.Identity{PID: 100, UID: 1000, Exe: img} }

func req(action, service, match string, targets ...string) *transport.Request {
	return &transport.Request{Type: transport.TypeRequest, Action: action, Service: service, Match: match, Targets: targets}
}

const (
	R, W, D, S = transport.ActionRead, transport.ActionWrite, transport.ActionDelete, transport.ActionSearch
	X, P       = transport.MatchExact, transport.MatchPrefix
)

func TestDecide(t *testing.T) {
	withEnv := func(img auth.Image, env ...string) *auth.Identity {
		id := as(img)
		id.InjectedEnv = env
		return id
	}
	traced := func(img auth.Image) *auth.Identity {
		id := as(img)
		id.TracerPID = 4242
		return id
	}
	scriptRun := &auth.Identity{PID: 7, Exe: bash, Script: &script}
	viaCourier := func(parent *auth.Identity, mod func(c *auth.Identity)) *auth.Identity {
		c := as(courier)
		if mod != nil {
			mod(c)
		}
		parent.Courier = c
		return parent
	}
	tests := []struct {
		name    string
		id      *auth.Identity
		req     *transport.Request
		reason  string // "" means allowed
		entry   string // matched entry path, "" for none
		relaxed []string
	}{
		{"read listed service", as(tool), req(R, "tool", X, "k"), "", tool.Path, nil},
		{"read second listed service", as(tool), req(R, "shared", X, "k"), "", tool.Path, nil},
		{"empty match means exact", as(tool), req(R, "tool", "", "k"), "", tool.Path, nil},
		{"read unlisted service", as(tool), req(R, "other", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"service names are case-sensitive", as(tool), req(R, "Tool", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"no wildcard in service names", as(tool), req(R, "*", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"no prefix matching of service names", as(tool), req(R, "too", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"empty service", as(tool), req(R, "", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"write listed", as(tool), req(W, "tool", X, "k"), "", tool.Path, nil},
		{"write read-only service", as(tool), req(W, "shared", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"delete listed", as(tool), req(D, "tool", X, "k"), "", tool.Path, nil},
		{"delete read-only service", as(tool), req(D, "shared", X, "k"), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"search without can_search", as(tool), req(S, "tool", ""), transport.ReasonActionNotInPolicy, tool.Path, nil},
		{"search unlisted without can_search", as(tool), req(S, "other", ""), transport.ReasonServiceNotAllowed, tool.Path, nil},
		{"prefix read without can_search", as(tool), req(R, "tool", P, "a"), transport.ReasonActionNotInPolicy, tool.Path, nil},
		{"prefix delete without can_search", as(tool), req(D, "tool", P, "a"), transport.ReasonActionNotInPolicy, tool.Path, nil},
		{"search with can_search", as(searcher), req(S, "idx", ""), "", searcher.Path, nil},
		{"search needs a read service", as(searcher), req(S, "wonly", ""), transport.ReasonServiceNotAllowed, searcher.Path, nil},
		{"prefix read with can_search", as(searcher), req(R, "idx", P, "a"), "", searcher.Path, nil},
		{"prefix delete with can_search", as(searcher), req(D, "idx", P, "a"), "", searcher.Path, nil},
		{"prefix delete needs write service", as(searcher), req(D, "nope", P, "a"), transport.ReasonServiceNotAllowed, searcher.Path, nil},
		{"write-only service is not readable", as(searcher), req(R, "wonly", X, "k"), transport.ReasonServiceNotAllowed, searcher.Path, nil},
		{"prefix write is never allowed", as(searcher), req(W, "idx", P, "a"), transport.ReasonActionNotInPolicy, searcher.Path, nil},
		{"unknown action", as(searcher), req("list", "idx", X), transport.ReasonActionNotInPolicy, searcher.Path, nil},
		{"unknown match", as(searcher), req(R, "idx", "glob", "*"), transport.ReasonActionNotInPolicy, searcher.Path, nil},
		{"unregistered path", as(auth.Image{Path: fixture("/tmp/evil"), Hash: tool.Hash}), req(R, "tool", X, "k"), transport.ReasonPendingApproval, "", nil},
		{"registered path, different hash", as(auth.Image{Path: tool.Path, Hash: hash('9')}), req(R, "tool", X, "k"), transport.ReasonPendingApproval, "", nil},
		{"hash compared exactly (uppercase)", as(auth.Image{Path: tool.Path, Hash: strings.ToUpper(tool.Hash)}), req(R, "tool", X, "k"), transport.ReasonPendingApproval, "", nil},
		{"script identity is the script", scriptRun, req(R, "deploy", X, "k"), "", script.Path, nil},
		{"script entry limits the script", &auth.Identity{Exe: bash, Script: &script}, req(W, "deploy", X, "k"), transport.ReasonServiceNotAllowed, script.Path, nil},
		{"bare interpreter never matches the script entry", as(bash), req(R, "deploy", X, "k"), transport.ReasonPendingApproval, "", nil},
		{"registered interpreter is not the script's program", &auth.Identity{Exe: tool, Script: &script}, req(R, "tool", X, "k"), transport.ReasonServiceNotAllowed, script.Path, nil},
		{"injected env not allowed", withEnv(tool, "LD_PRELOAD"), req(R, "tool", X, "k"), transport.ReasonInjectedEnvironment, tool.Path, nil},
		{"injected env partly allowed", withEnv(preloaded, "LD_AUDIT", "LD_PRELOAD"), req(R, "p", X, "k"), transport.ReasonInjectedEnvironment, preloaded.Path, nil},
		{"allowed env is relaxed and reported", withEnv(preloaded, "PYTHONPATH", "LD_PRELOAD"), req(R, "p", X, "k"), "", preloaded.Path, []string{"LD_PRELOAD", "PYTHONPATH"}},
		{"relaxed env reported on a service denial", withEnv(preloaded, "LD_PRELOAD"), req(R, "q", X, "k"), transport.ReasonServiceNotAllowed, preloaded.Path, []string{"LD_PRELOAD"}},
		{"env checked before tracer", func() *auth.Identity { id := traced(tool); id.InjectedEnv = []string{"BASH_ENV"}; return id }(), req(R, "tool", X, "k"), transport.ReasonInjectedEnvironment, tool.Path, nil},
		{"traced caller", traced(tool), req(R, "tool", X, "k"), transport.ReasonTracedProcess, tool.Path, nil},
		{"traced caller with relaxed env", func() *auth.Identity { id := traced(preloaded); id.InjectedEnv = []string{"LD_PRELOAD"}; return id }(), req(R, "p", X, "k"), transport.ReasonTracedProcess, preloaded.Path, []string{"LD_PRELOAD"}},
		{"unregistered checked before tracer", traced(bash), req(R, "tool", X, "k"), transport.ReasonPendingApproval, "", nil},
		{"courier relays a registered script", viaCourier(&auth.Identity{Exe: bash, Script: &script}, nil), req(R, "deploy", X, "k"), "", script.Path, nil},
		{"courier's injected env counts", viaCourier(&auth.Identity{Exe: bash, Script: &script}, func(c *auth.Identity) { c.InjectedEnv = []string{"LD_PRELOAD"} }), req(R, "deploy", X, "k"), transport.ReasonInjectedEnvironment, script.Path, nil},
		{"courier's allowed env is relaxed, deduplicated", viaCourier(&auth.Identity{Exe: bash, Script: &preloaded, InjectedEnv: []string{"LD_PRELOAD"}}, func(c *auth.Identity) { c.InjectedEnv = []string{"LD_PRELOAD"} }), req(W, "p", X, "k"), "", preloaded.Path, []string{"LD_PRELOAD"}},
		{"traced courier", viaCourier(&auth.Identity{Exe: bash, Script: &script}, func(c *auth.Identity) { c.TracerPID = 9 }), req(R, "deploy", X, "k"), transport.ReasonTracedProcess, script.Path, nil},
		{"courier for a shell that runs no script", viaCourier(as(bash), nil), req(R, "tool", X, "k"), transport.ReasonCourierNotScript, "", nil},
		// A program could start the CLI and then exec an approved binary:
		// the CLI relays for scripts only, registered program or not.
		{"courier for a registered program", viaCourier(as(tool), nil), req(R, "tool", X, "k"), transport.ReasonCourierNotScript, "", nil},
		{"nil identity", nil, req(R, "tool", X, "k"), transport.ReasonPendingApproval, "", nil},
		{"nil request", as(tool), nil, transport.ReasonPendingApproval, "", nil},
	}
	cfg := testConfig(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(cfg, tt.id, tt.req)
			wantAllowed := tt.reason == ""
			wantStatus := transport.StatusDenied
			if wantAllowed {
				wantStatus = transport.StatusSuccess
			}
			if d.Allowed != wantAllowed || d.Reason != tt.reason || d.Status != wantStatus {
				t.Errorf("got allowed=%v status=%q reason=%q, want allowed=%v status=%q reason=%q",
					d.Allowed, d.Status, d.Reason, wantAllowed, wantStatus, tt.reason)
			}
			gotEntry := ""
			if d.Entry != nil {
				gotEntry = d.Entry.Path
			}
			if gotEntry != tt.entry {
				t.Errorf("entry = %q, want %q", gotEntry, tt.entry)
			}
			if !slices.Equal(d.RelaxedEnv, tt.relaxed) {
				t.Errorf("relaxed env = %q, want %q", d.RelaxedEnv, tt.relaxed)
			}
		})
	}
}

func TestDecideNilConfigDeniesAll(t *testing.T) {
	for _, c := range []*config.Config{nil, config.Empty()} {
		d := Decide(c, as(tool), req(R, "tool", X, "k"))
		if d.Allowed || d.Reason != transport.ReasonPendingApproval {
			t.Errorf("Decide(empty) = %+v, want denied %s", d, transport.ReasonPendingApproval)
		}
	}
}

// A revoked permission takes effect on the next decision: Decide reads the
// entry each time and keeps nothing.
func TestRevokeTakesEffectAtOnce(t *testing.T) {
	cfg := testConfig(t)
	r := req(R, "tool", X, "k")
	if d := Decide(cfg, as(tool), r); !d.Allowed {
		t.Fatalf("before revoke: denied %s", d.Reason)
	}
	_, e := cfg.Find(tool.Path)
	e.RevokeRead("tool")
	if d := Decide(cfg, as(tool), r); d.Allowed || d.Reason != transport.ReasonServiceNotAllowed {
		t.Fatalf("after revoke: %+v, want %s", d, transport.ReasonServiceNotAllowed)
	}
}

func TestFind(t *testing.T) {
	cfg := testConfig(t)
	if e := Find(cfg, tool); e == nil || e.Path != tool.Path {
		t.Errorf("Find(tool) = %v", e)
	}
	for _, img := range []auth.Image{
		{Path: tool.Path, Hash: searcher.Hash},
		{Path: searcher.Path, Hash: tool.Hash},
		{Path: tool.Path},
		{Hash: tool.Hash},
		{},
	} {
		if e := Find(cfg, img); e != nil {
			t.Errorf("Find(%+v) = %s, want nil", img, e.Path)
		}
	}
	if e := Find(nil, tool); e != nil {
		t.Errorf("Find(nil config) = %v", e)
	}
}

func TestCheck(t *testing.T) {
	cfg := testConfig(t)
	r, w, sr := Need{Read: true}, Need{Write: true}, Need{Search: true}
	tests := []struct {
		img                 auth.Image
		service             string
		need                Need
		registered, allowed bool
	}{
		{tool, "", Need{}, true, true},
		{tool, "tool", r, true, true},
		{tool, "tool", Need{Read: true, Write: true}, true, true},
		{tool, "tool", NeedAll, true, false}, // no can_search
		{tool, "shared", r, true, true},      // read only
		{tool, "shared", w, true, false},
		{searcher, "wonly", w, true, true}, // write only
		{searcher, "wonly", r, true, false},
		{searcher, "", sr, true, true},
		{searcher, "idx", NeedAll, true, true},
		{tool, "", sr, true, false},
		{tool, "other", r, true, false},
		{tool, "TOOL", r, true, false},
		{auth.Image{Path: tool.Path, Hash: hash('9')}, "tool", Need{}, false, false},
		{bash, "", Need{}, false, false},
	}
	for _, tt := range tests {
		r, a := Check(cfg, tt.img, tt.service, tt.need)
		if r != tt.registered || a != tt.allowed {
			t.Errorf("Check(%s, %q, %+v) = %v, %v, want %v, %v", tt.img.Path, tt.service, tt.need, r, a, tt.registered, tt.allowed)
		}
	}
}
