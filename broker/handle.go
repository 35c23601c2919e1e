package broker

import (
	"errors"
	"time"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/policy"
	"github.com/keychain-auth/keychain-auth/transport"
)

// handleLine answers one request line. keep is false when the connection
// must close after the answer (an unregistered or unidentifiable caller).
func (s *Server) handleLine(peer *auth.Peer, line []byte) (resp any, keep bool) {
	id, err := peer.Identify()
	if err != nil {
		return s.identityFailed(err), false
	}
	s.touch()
	t, err := s.opt.Tenants(id.UID)
	if err != nil {
		s.opt.Logger.Error("user's store or policy unavailable", "uid", id.UID, "err", err)
		s.audit(nil, decisionRecord(id, nil, transport.StatusError, transport.ReasonInternalError, err.Error()))
		return errorResponse(transport.ReasonInternalError), true
	}
	if run, err := transport.ParseRun(line, transport.Limits{MaxTargets: s.opt.Limits.MaxTargets}); run != nil || err != nil {
		return s.run(t, peer, id, run, err) // run.go
	}
	req, err := transport.ParseMessage(line, transport.Limits{MaxTargets: s.opt.Limits.MaxTargets})
	if err == nil && req.Type == transport.TypeStatus {
		return s.status(t), true
	}
	if err == nil && req.Type == transport.TypeView {
		return s.view(t), true
	}
	if err == nil && isLifecycle(req.Type) {
		return s.lifecycle(t, id, req), true
	}
	if err != nil {
		s.opt.Logger.Info("malformed request", "pid", id.PID, "err", err)
		s.audit(t, decisionRecord(id, nil, transport.StatusError, transport.ReasonMalformed, err.Error()))
		return errorResponse(transport.ReasonMalformed), true
	}
	cfg, err := t.Policy.CurrentAt(peer.Fresh())
	if err != nil {
		// A policy file that does not parse allows nothing, and the caller
		// is not queued for approval as if it were unknown.
		s.opt.Logger.Error("policy file unusable; refusing requests until it is fixed", "err", err)
		s.audit(t, decisionRecord(id, req, transport.StatusError, transport.ReasonInternalError, err.Error()))
		return errorResponse(transport.ReasonInternalError), true
	}
	d := policy.Decide(cfg, id, req)
	if !d.Allowed {
		return s.deny(t, id, req, d)
	}
	st := t.Store
	if sr, ok := st.(backend.StampedReads); ok {
		st = sr.ReadsAt(peer.Fresh()) // the vault may skip its journal's stat
	}
	r := s.apply(st, req)
	s.slots.prove(id.UID, connector(id).PID)
	rec := decisionRecord(id, req, r.Status, r.Reason, "")
	rec.RelaxedEnv = d.RelaxedEnv
	s.audit(t, rec)
	return r, true
}

func (s *Server) identityFailed(err error) *transport.Response {
	reason := auth.ReasonIdentityUnavailable
	var aerr *auth.Error
	if errors.As(err, &aerr) {
		reason = aerr.Reason
	}
	s.opt.Logger.Warn("caller refused", "reason", reason, "err", err)
	s.audit(nil, decisionRecord(nil, nil, transport.StatusDenied, reason, err.Error()))
	return deniedResponse(reason)
}

// deny answers a policy refusal; an unregistered caller is queued for a
// human and the connection ends.
func (s *Server) deny(t *Tenant, id *auth.Identity, req *transport.Request, d policy.Decision) (any, bool) {
	reason, detail := d.Reason, ""
	keep := true
	if reason == transport.ReasonPendingApproval {
		keep = false
		if err := queue(t, id); err != nil {
			detail = err.Error()
			if errors.Is(err, config.ErrPendingFull) {
				reason = transport.ReasonPendingQueueFull
			}
			s.opt.Logger.Warn("caller not queued for approval", "path", id.Program().Path, "err", err)
		} else {
			s.opt.Logger.Info("unregistered caller queued for approval", "path", id.Program().Path, "hash", id.Program().Hash)
		}
	}
	if d.Hint != "" {
		s.opt.Logger.Info("request denied", "reason", reason, "path", id.Program().Path, "pid", id.PID, "hint", d.Hint)
		detail = joinDetail(d.Hint, detail)
	}
	s.audit(t, decisionRecord(id, req, d.Status, reason, detail))
	resp := deniedResponse(reason)
	resp.Hint = d.Hint
	return resp, keep
}

func joinDetail(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func queue(t *Tenant, id *auth.Identity) error {
	prog := id.Program()
	// Add cleans and bounds the command line (4 KiB in all).
	return t.Pending.Add(config.PendingRecord{Path: prog.Path, Hash: prog.Hash, CommandLine: id.CommandLine, Timestamp: time.Now().UTC()})
}

// status answers STATUS with the caller's own store.
func (s *Server) status(t *Tenant) *transport.StatusInfo {
	info := t.Store.Info()
	lk, lockable := t.Store.(backend.Lockable)
	return &transport.StatusInfo{
		Locked:        lockable && lk.Locked(),
		Mode:          s.opt.Mode,
		Type:          transport.TypeStatus,
		Version:       s.opt.Version,
		Backend:       info.Name,
		Endpoint:      s.opt.Endpoint,
		UptimeSeconds: int64(time.Since(s.started).Seconds()),
		AtRest:        info.AtRest,
		Warning:       info.Warning,
	}
}

// audit writes r to the tenant's audit log, or to the daemon's when t is
// nil or has none.
func (s *Server) audit(t *Tenant, r audit.Record) {
	log := s.opt.Audit
	if t != nil && t.Audit != nil {
		log = t.Audit
	}
	if log == nil {
		return
	}
	if err := log.Write(r); err != nil {
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

// connector is the process that holds the connection: the CLI when it
// relays for a script, else the caller itself.
func connector(id *auth.Identity) *auth.Identity {
	if id.Courier != nil {
		return id.Courier
	}
	return id
}
