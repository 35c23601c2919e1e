package broker

import (
	"errors"
	"strings"
	"time"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/policy"
	"github.com/keychain-auth/keychain-auth/transport"
)

// maxCommandLine bounds the command line kept in the pending queue.
const maxCommandLine = 1024

// handleLine answers one request line. keep is false when the connection
// must close after the answer (an unregistered or unidentifiable caller).
func (s *Server) handleLine(peer *auth.Peer, line []byte) (resp any, keep bool) {
	id, err := peer.Identify()
	if err != nil {
		return s.identityFailed(err), false
	}
	s.touch()
	req, err := transport.ParseMessage(line, transport.Limits{MaxTargets: s.opt.Limits.MaxTargets})
	if err == nil && req.Type == transport.TypeStatus {
		return s.status(), true
	}
	if err == nil && isLifecycle(req.Type) {
		return s.lifecycle(id, req), true
	}
	if err != nil {
		s.opt.Logger.Info("malformed request", "pid", id.PID, "err", err)
		s.audit(decisionRecord(id, nil, transport.StatusError, transport.ReasonMalformed, err.Error()))
		return errorResponse(transport.ReasonMalformed), true
	}
	cfg, err := s.opt.Policy.Current()
	if err != nil {
		// A policy file that does not parse allows nothing, and the caller
		// is not queued for approval as if it were unknown.
		s.opt.Logger.Error("policy file unusable; refusing requests until it is fixed", "err", err)
		s.audit(decisionRecord(id, req, transport.StatusError, transport.ReasonInternalError, err.Error()))
		return errorResponse(transport.ReasonInternalError), true
	}
	d := policy.Decide(cfg, id, req)
	if !d.Allowed {
		return s.deny(id, req, d)
	}
	r := s.apply(req)
	rec := decisionRecord(id, req, r.Status, r.Reason, "")
	rec.RelaxedEnv = d.RelaxedEnv
	s.audit(rec)
	return r, true
}

func (s *Server) identityFailed(err error) *transport.Response {
	reason := auth.ReasonIdentityUnavailable
	var aerr *auth.Error
	if errors.As(err, &aerr) {
		reason = aerr.Reason
	}
	s.opt.Logger.Warn("caller refused", "reason", reason, "err", err)
	s.audit(decisionRecord(nil, nil, transport.StatusDenied, reason, err.Error()))
	return deniedResponse(reason)
}

// deny answers a policy refusal; an unregistered caller is queued for a
// human and the connection ends.
func (s *Server) deny(id *auth.Identity, req *transport.Request, d policy.Decision) (any, bool) {
	reason, detail := d.Reason, ""
	keep := true
	if reason == transport.ReasonPendingApproval {
		keep = false
		if err := s.queue(id); err != nil {
			detail = err.Error()
			if errors.Is(err, config.ErrPendingFull) {
				reason = transport.ReasonPendingQueueFull
			}
			s.opt.Logger.Warn("caller not queued for approval", "path", id.Program().Path, "err", err)
		} else {
			s.opt.Logger.Info("unregistered caller queued for approval", "path", id.Program().Path, "hash", id.Program().Hash)
		}
	}
	s.audit(decisionRecord(id, req, d.Status, reason, detail))
	return deniedResponse(reason), keep
}

func (s *Server) queue(id *auth.Identity) error {
	prog := id.Program()
	cmd := strings.Join(id.CommandLine, " ")
	if len(cmd) > maxCommandLine {
		cmd = cmd[:maxCommandLine] + "..."
	}
	return s.opt.Pending.Add(config.PendingRecord{Path: prog.Path, Hash: prog.Hash, CommandLine: cmd, Timestamp: time.Now().UTC()})
}

func (s *Server) status() *transport.StatusInfo {
	info := s.opt.Store.Info()
	lk, lockable := s.opt.Store.(backend.Lockable)
	return &transport.StatusInfo{
		Locked:        lockable && lk.Locked(),
		Type:          transport.TypeStatus,
		Version:       s.opt.Version,
		Backend:       info.Name,
		Endpoint:      s.opt.Endpoint,
		UptimeSeconds: int64(time.Since(s.started).Seconds()),
		AtRest:        info.AtRest,
		Warning:       info.Warning,
	}
}

func (s *Server) audit(r audit.Record) {
	if s.opt.Audit == nil {
		return
	}
	if err := s.opt.Audit.Write(r); err != nil {
		s.opt.Logger.Error("audit write failed", "err", err)
	}
}

// decisionRecord builds the audit line for a decision; id or req may be nil
// when the decision came before they were known.
func decisionRecord(id *auth.Identity, req *transport.Request, status, reason, detail string) audit.Record {
	r := audit.Record{Time: time.Now().UTC(), Status: status, Reason: reason, Detail: detail}
	if id != nil {
		prog := id.Program()
		r.PID, r.UID, r.Path, r.Hash = id.PID, id.UID, prog.Path, prog.Hash
		if id.Script != nil {
			r.Script = id.Exe.Path
		}
		r.Assurance = audit.AssuranceFull
		if id.ReducedAssurance {
			r.Assurance = audit.AssuranceReduced
		}
		if c := id.Courier; c != nil {
			r.Courier = &audit.Party{PID: c.PID, Path: c.Exe.Path, Hash: c.Exe.Hash}
		}
	}
	if req != nil {
		r.Service, r.Action, r.Match = req.Service, req.Action, req.Match
		r.Targets = req.Targets
	}
	return r
}
