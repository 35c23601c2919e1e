package policy

import (
	"fmt"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// RunWeakening switches off the one check of DecideRun that stands
// between a hash and what runs; only a test build of the daemon sets it
// (the swap-race canary, integration/run_test.go).
type RunWeakening struct {
	// NoWritableCheck accepts a program file the caller's uid could
	// rewrite between the daemon's hash and the CLI's exec.
	NoWritableCheck bool
}

// DecideRun decides a `keychain-auth run` on PROGRAM's own authority (the
// second way; the first, as the caller, is Decide on req.ReadRequest()).
// id is the caller as Identify reported it; the request must come from
// keychain-auth's own CLI (id.Courier), which executes exactly the file it
// holds open. file is that file, identified by the daemon. In order:
//
//   - a sender that is not the CLI: run_program_unsupported;
//   - PROGRAM not registered by path and hash: unregistered (the broker
//     queues PROGRAM, not the caller);
//   - a #! script: run_program_unsupported (the kernel would pass
//     /dev/fd/N to an interpreter, which the daemon cannot pin);
//   - a file the caller's uid could rewrite before the exec (it owns it,
//     it is group- or world-writable, it has an ACL): run_program_writable.
//     A caller running as root is not refused for owning the file: root
//     can read every value in other ways (its daemon's memory), so the
//     rule would protect nothing;
//   - injection variables in the CLI's environment (which PROGRAM
//     inherits) that the entry does not allow, or a traced CLI;
//   - the service not in allowed_run_services: service_not_allowed.
//
// A prefix read needs no can_search here: --run SERVICE gives PROGRAM
// every value of the service.
func DecideRun(cfg *config.Config, id *auth.Identity, file *auth.RunFile, req *transport.RunRequest, weak RunWeakening) Decision {
	if id == nil || id.Courier == nil || file == nil || req == nil {
		d := deny(nil, transport.ReasonRunProgramUnsupported)
		d.Hint = "only keychain-auth's own CLI can ask for a program's values on the program's account"
		return d
	}
	e := Find(cfg, file.Image)
	if e == nil {
		d := deny(nil, transport.ReasonPendingApproval)
		d.Hint = fmt.Sprintf("%s (%s) is not registered; it was queued for approval", file.Image.Path, file.Image.Hash)
		return d
	}
	if file.Script {
		d := deny(e, transport.ReasonRunProgramUnsupported)
		d.Hint = fmt.Sprintf("%s is a script; run as PROGRAM takes executables only: start its interpreter's registered script from a registered script instead (run as the caller)", file.Image.Path)
		return d
	}
	if !weak.NoWritableCheck && runWritable(file, id.UID) {
		d := deny(e, transport.ReasonRunProgramWritable)
		d.Hint = fmt.Sprintf("%s could be rewritten by your user between the check and the start, so its hash would not say what runs; "+
			"install it where your user cannot write it (owned by root, mode 0755), or run it from a registered script", file.Image.Path)
		return d
	}
	cli := &auth.Identity{InjectedEnv: id.Courier.InjectedEnv, TracerPID: id.Courier.TracerPID}
	relaxed, refused := checkEnv(e, cli)
	switch {
	case len(refused) > 0:
		d := deny(e, transport.ReasonInjectedEnvironment)
		d.Hint = envHint(e.Path, refused)
		return d
	case traced(cli):
		return deny(e, transport.ReasonTracedProcess)
	case !e.CanRun(req.Service):
		d := deny(e, transport.ReasonServiceNotAllowed)
		d.Hint = fmt.Sprintf("%s may not receive service %q through run; an admin can allow it with `keychain-auth grant %s --run %s` "+
			"(its values are then readable by your other programs while it runs)", e.Path, req.Service, shellQuote(e.Path), shellQuote(req.Service))
		return d
	}
	return Decision{Allowed: true, Status: transport.StatusSuccess, Entry: e, RelaxedEnv: relaxed}
}

// runWritable reports whether uid could change the file's bytes: as its
// owner (who can always chmod it), through group or other write bits, or
// through an ACL. Root is not refused for ownership (see DecideRun).
func runWritable(f *auth.RunFile, uid uint32) bool {
	return (f.UID == uid && uid != 0) || f.Mode&0o022 != 0 || f.HasACL
}
