package broker

import (
	"encoding/json"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/transport"
)

// viewAuditLines bounds the audit lines one VIEW returns.
const viewAuditLines = 500

// view answers VIEW with the caller's own tenant: its policy, its pending
// queue and its last audit lines. Nothing of another uid is reachable: t
// is the caller's tenant. No value is in any of these.
func (s *Server) view(t *Tenant) any {
	v, err := s.viewOf(t)
	if err != nil {
		s.opt.Logger.Error("VIEW failed", "err", err)
		return errorResponse(transport.ReasonInternalError)
	}
	return v
}

func (s *Server) viewOf(t *Tenant) (*transport.ViewInfo, error) {
	cfg, err := t.Policy.Current()
	if err != nil {
		return nil, err
	}
	v := &transport.ViewInfo{Type: transport.TypeView}
	if v.Config, err = cfg.Encode(); err != nil {
		return nil, err
	}
	recs, err := t.Pending.List()
	if err != nil {
		return nil, err
	}
	if v.Pending, err = json.Marshal(recs); err != nil {
		return nil, err
	}
	if t.AuditPath == "" {
		return v, nil
	}
	lines, err := audit.Tail(t.AuditPath, viewAuditLines)
	if err != nil {
		return nil, err
	}
	for _, r := range lines {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		v.Audit = append(v.Audit, b)
	}
	return v, nil
}
