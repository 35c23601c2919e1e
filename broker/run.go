package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/policy"
	"github.com/keychain-auth/keychain-auth/transport"
)

// insecureRunWritable is empty in every real build. The swap-race test
// builds a second daemon with -ldflags -X setting it, which switches off
// the rule that the program of a `run` must not be writable by the caller
// (policy.RunWeakening), to show a file rewritten between the daemon's
// hash and the exec getting the values (the canary).
var insecureRunWritable = ""

// run answers a RUN message (transport.TypeRun): the values of one service
// for the program keychain-auth's CLI is about to start. It is allowed in
// one of two ways, tried in order:
//
//  1. as the caller, exactly as the same read would be (policy.Decide: a
//     registered script that runs the CLI gets what its entry may read);
//  2. as PROGRAM, when the CLI sent the descriptor of the file it will
//     execute: the daemon identifies that file (auth.Peer.RunFile) and
//     policy.DecideRun requires its entry to list the service in
//     allowed_run_services.
//
// When neither allows it, a caller with an entry of its own (a registered
// script) is refused with its own reason, as `get` would be; anyone else
// with PROGRAM's, and an unregistered PROGRAM is queued for approval.
func (s *Server) run(t *Tenant, peer *auth.Peer, id *auth.Identity, req *transport.RunRequest, perr error) (any, bool) {
	if perr != nil {
		s.opt.Logger.Info("malformed run request", "pid", id.PID, "err", perr)
		s.audit(t, runRecord(id, nil, transport.StatusError, transport.ReasonMalformed, perr.Error()))
		return errorResponse(transport.ReasonMalformed), true
	}
	cfg, err := t.Policy.Current()
	if err != nil {
		s.opt.Logger.Error("policy file unusable; refusing requests until it is fixed", "err", err)
		s.audit(t, runRecord(id, req, transport.StatusError, transport.ReasonInternalError, err.Error()))
		return errorResponse(transport.ReasonInternalError), true
	}
	read := req.ReadRequest()
	asCaller := policy.Decide(cfg, id, read)
	if asCaller.Allowed {
		r := s.apply(t.Store, read)
		s.slots.prove(id.UID, connector(id).PID)
		rec := runRecord(id, req, r.Status, r.Reason, "run as the caller")
		rec.RelaxedEnv = asCaller.RelaxedEnv
		s.audit(t, rec)
		return r, true
	}
	if req.ProgramFD < 0 || id.Courier == nil {
		return s.deny(t, id, read, asCaller)
	}
	file, err := peer.RunFile(req.ProgramFD)
	if err != nil {
		return s.runFileFailed(t, id, req, err)
	}
	d := policy.DecideRun(cfg, id, file, req, policy.RunWeakening{NoWritableCheck: insecureRunWritable != ""})
	if d.Allowed {
		r := s.apply(t.Store, read)
		s.slots.prove(id.UID, connector(id).PID)
		rec := runRecord(id, req, r.Status, r.Reason, "run as the program (allowed_run_services), started by "+id.Program().Path)
		rec.Path, rec.Hash, rec.Script = file.Image.Path, file.Image.Hash, ""
		rec.RelaxedEnv = d.RelaxedEnv
		s.audit(t, rec)
		return r, true
	}
	if asCaller.Entry != nil {
		why := d.Hint
		if d.Reason == transport.ReasonPendingApproval {
			why = file.Image.Path + " is not registered (not queued: a registered caller's run is decided by its own entry)"
		}
		asCaller.Hint = joinDetail(asCaller.Hint, "as the program: "+why)
		return s.deny(t, id, read, asCaller)
	}
	return s.denyRun(t, id, req, file, d)
}

// denyRun refuses a RUN on PROGRAM's account. An unregistered PROGRAM is
// queued (not the caller, whose approval would grant nothing here), and
// the connection ends as for any unregistered program.
func (s *Server) denyRun(t *Tenant, id *auth.Identity, req *transport.RunRequest, file *auth.RunFile, d policy.Decision) (any, bool) {
	reason, detail, keep := d.Reason, d.Hint, true
	if reason == transport.ReasonPendingApproval {
		keep = false
		rec := config.PendingRecord{Path: file.Image.Path, Hash: file.Image.Hash, CommandLine: []string{file.Image.Path}, Timestamp: time.Now().UTC()}
		if err := t.Pending.Add(rec); err != nil {
			detail = joinDetail(detail, err.Error())
			if errors.Is(err, config.ErrPendingFull) {
				reason = transport.ReasonPendingQueueFull
			}
		}
	}
	s.opt.Logger.Info("run denied", "reason", reason, "program", file.Image.Path, "caller", id.Program().Path, "pid", id.PID)
	rec := runRecord(id, req, transport.StatusDenied, reason, detail)
	rec.Path, rec.Hash, rec.Script = file.Image.Path, file.Image.Hash, ""
	s.audit(t, rec)
	resp := deniedResponse(reason)
	resp.Hint = d.Hint
	return resp, keep
}

// runFileFailed answers a program the daemon could not identify.
func (s *Server) runFileFailed(t *Tenant, id *auth.Identity, req *transport.RunRequest, err error) (any, bool) {
	reason := auth.ReasonIdentityUnavailable
	hint := ""
	var aerr *auth.Error
	switch {
	case errors.Is(err, auth.ErrRunUnsupported):
		reason = transport.ReasonRunProgramUnsupported
		hint = "on this platform a program cannot be authorized on its own account; run it from a registered script (run as the caller)"
	case errors.As(err, &aerr):
		reason = aerr.Reason
	}
	s.opt.Logger.Warn("run program not identified", "reason", reason, "err", err)
	s.audit(t, runRecord(id, req, transport.StatusDenied, reason, fmt.Sprintf("run program: %v", err)))
	resp := deniedResponse(reason)
	resp.Hint = hint
	return resp, true
}

// runRecord is decisionRecord for a RUN, with action "run".
func runRecord(id *auth.Identity, req *transport.RunRequest, status, reason, detail string) audit.Record {
	var read *transport.Request
	if req != nil {
		read = req.ReadRequest()
	}
	r := decisionRecord(id, read, status, reason, detail)
	r.Action = "run"
	return r
}
