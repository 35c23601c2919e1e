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
	resp, _ := s.deny(t, id, nil, policy.Decision{Status: transport.StatusDenied, Reason: transport.ReasonPendingApproval})
	return resp.(*transport.Response)
}
