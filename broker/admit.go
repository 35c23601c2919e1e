package broker

import (
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/policy"
	"github.com/keychain-auth/keychain-auth/transport"
)

// admit identifies the connecting process before anything is read, and
// returns the refusal to send at once when the daemon will serve it nothing:
// it cannot be identified, or it is not in the policy (it is then queued for
// approval). A client of the original protocol may read before it writes;
// it must see the reason rather than wait (spec §3). nil admits the
// connection; every request on it is still identified and decided afresh.
//
// Only refusals are decided here. keychain-auth's own CLI is admitted: it
// writes first, and it is authorized per request as the script it relays
// for, so that `keychain-auth status` works from any script. A policy file
// that does not parse, or a tenant that cannot be opened, is answered per
// request (internal_error), not here.
func (s *Server) admit(peer *auth.Peer) *transport.Response {
	id, err := peer.Identify()
	if err != nil {
		return s.identityFailed(err)
	}
	t, err := s.opt.Tenants(id.UID)
	if err != nil {
		return nil
	}
	cfg, err := t.Policy.Current()
	if err != nil || !policy.Unregistered(cfg, id) {
		return nil
	}
	if d, ok := policy.Upgraded(s.opt.Self, id); ok {
		return s.refuseUpgraded(t, id, d)
	}
	d := policy.Decision{Status: transport.StatusDenied, Reason: transport.ReasonPendingApproval, Hint: policy.PendingHint(cfg, id)}
	resp, _ := s.deny(t, id, nil, d)
	return resp.(*transport.Response)
}

// refuseUpgraded answers keychain-auth's CLI of another build than the
// daemon's: it is not queued for approval (approving keychain-auth itself
// would make it a program with its own permissions, not the courier), and
// it is told to restart the daemon.
func (s *Server) refuseUpgraded(t *Tenant, id *auth.Identity, d policy.Decision) *transport.Response {
	s.opt.Logger.Warn("keychain-auth of another build than this daemon connected; restart the daemon if it was upgraded",
		"path", id.Exe.Path, "hash", id.Exe.Hash, "daemon_hash", s.opt.Self.Hash)
	s.audit(t, decisionRecord(id, nil, d.Status, d.Reason, d.Hint))
	resp := deniedResponse(d.Reason)
	resp.Hint = d.Hint
	return resp
}
