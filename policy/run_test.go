package policy

import (
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

func TestDecideRun(t *testing.T) {
	cfg := config.Empty()
	e := config.NewEntry(tool.Path, tool.Hash, time.Unix(0, 0))
	e.GrantRead("readonly")
	e.GrantRun("svc")
	cfg.RegisteredBinaries = append(cfg.RegisteredBinaries, e)

	// The caller: an interactive shell that ran the CLI.
	caller := func(env ...string) *auth.Identity {
		return &auth.Identity{PID: 10, UID: 1000, Exe: bash, Courier: &auth.Identity{PID: 11, UID: 1000, Exe: courier, InjectedEnv: env}}
	}
	// A program file owned by root, 0755, no ACL: what a real install is.
	file := func(mod func(*auth.RunFile)) *auth.RunFile {
		f := &auth.RunFile{Image: tool, UID: 0, GID: 0, Mode: 0o755}
		if mod != nil {
			mod(f)
		}
		return f
	}
	run := func(service string) *transport.RunRequest {
		return &transport.RunRequest{Service: service, Match: transport.MatchExact, Targets: []string{"k"}, ProgramFD: 3}
	}
	other := auth.Image{Path: fixture("/usr/local/bin/other"), Hash: hash('9')}
	cases := []struct {
		name   string
		id     *auth.Identity
		file   *auth.RunFile
		req    *transport.RunRequest
		weak   RunWeakening
		reason string
	}{
		{"granted --run", caller(), file(nil), run("svc"), RunWeakening{}, ""},
		{"read only is not run", caller(), file(nil), run("readonly"), RunWeakening{}, transport.ReasonServiceNotAllowed},
		{"not the CLI", &auth.Identity{PID: 10, UID: 1000, Exe: bash}, file(nil), run("svc"), RunWeakening{}, transport.ReasonRunProgramUnsupported},
		{"unregistered program", caller(), file(func(f *auth.RunFile) { f.Image = other }), run("svc"), RunWeakening{}, transport.ReasonPendingApproval},
		{"changed program", caller(), file(func(f *auth.RunFile) { f.Image.Hash = hash('8') }), run("svc"), RunWeakening{}, transport.ReasonPendingApproval},
		{"script", caller(), file(func(f *auth.RunFile) { f.Script = true }), run("svc"), RunWeakening{}, transport.ReasonRunProgramUnsupported},
		{"owned by the caller", caller(), file(func(f *auth.RunFile) { f.UID = 1000 }), run("svc"), RunWeakening{}, transport.ReasonRunProgramWritable},
		{"owned by the caller, check weakened (canary)", caller(), file(func(f *auth.RunFile) { f.UID = 1000 }), run("svc"), RunWeakening{NoWritableCheck: true}, ""},
		{"group-writable", caller(), file(func(f *auth.RunFile) { f.Mode = 0o775 }), run("svc"), RunWeakening{}, transport.ReasonRunProgramWritable},
		{"world-writable", caller(), file(func(f *auth.RunFile) { f.Mode = 0o757 }), run("svc"), RunWeakening{}, transport.ReasonRunProgramWritable},
		{"ACL", caller(), file(func(f *auth.RunFile) { f.HasACL = true }), run("svc"), RunWeakening{}, transport.ReasonRunProgramWritable},
		{"root caller owning a root file", &auth.Identity{UID: 0, Exe: bash, Courier: &auth.Identity{Exe: courier}}, file(nil), run("svc"), RunWeakening{}, ""},
		{"injection variable in the CLI's environment", caller("LD_PRELOAD"), file(nil), run("svc"), RunWeakening{}, transport.ReasonInjectedEnvironment},
		{"traced CLI", &auth.Identity{UID: 1000, Exe: bash, Courier: &auth.Identity{Exe: courier, TracerPID: 5}}, file(nil), run("svc"), RunWeakening{}, transport.ReasonTracedProcess},
	}
	for _, c := range cases {
		d := DecideRun(cfg, c.id, c.file, c.req, c.weak)
		if d.Allowed != (c.reason == "") || d.Reason != c.reason {
			t.Errorf("%s: allowed %t reason %q, want reason %q", c.name, d.Allowed, d.Reason, c.reason)
		}
		if !d.Allowed && d.Reason != transport.ReasonTracedProcess && d.Hint == "" {
			t.Errorf("%s: denial without a hint", c.name)
		}
	}
	// Revoking --run takes effect on the next decision.
	cfg.RegisteredBinaries[0].RevokeRun("svc")
	if d := DecideRun(cfg, caller(), file(nil), run("svc"), RunWeakening{}); d.Reason != transport.ReasonServiceNotAllowed {
		t.Errorf("after revoke --run: %q, want service_not_allowed", d.Reason)
	}
}
