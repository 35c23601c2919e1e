package broker

import (
	"errors"
	"sort"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/transport"
)

// apply carries out an authorized request against the caller's store. Store errors
// are logged here in full and reach the client only as a reason code.
func (s *Server) apply(st backend.Store, req *transport.Request) *transport.Response {
	var (
		results []transport.Result
		err     error
	)
	switch req.Action {
	case transport.ActionRead:
		results, err = s.read(st, req)
	case transport.ActionSearch:
		results, err = s.search(st, req)
	case transport.ActionWrite:
		err = s.write(st, req)
	case transport.ActionDelete:
		err = s.delete(st, req)
	default:
		// ParseRequest admits only the four actions.
		return errorResponse(transport.ReasonMalformed)
	}
	if err != nil {
		return s.storeFailed(req, err)
	}
	resp := &transport.Response{Type: transport.TypeResponse, Status: transport.StatusSuccess}
	if req.Action == transport.ActionRead || req.Action == transport.ActionSearch {
		if results == nil {
			results = []transport.Result{}
		}
		resp.Results = results
	}
	return resp
}

func (s *Server) storeFailed(req *transport.Request, err error) *transport.Response {
	s.opt.Logger.Error("store operation failed", "action", req.Action, "service", req.Service, "err", err)
	if errors.Is(err, backend.ErrLocked) {
		return errorResponse(transport.ReasonStoreLocked)
	}
	return errorResponse(transport.ReasonInternalError)
}

func (s *Server) read(st backend.Store, req *transport.Request) ([]transport.Result, error) {
	if req.Match == transport.MatchPrefix {
		items, err := s.listPrefixes(st, req.Service, req.Targets, true)
		return toResults(items, true), err
	}
	out := make([]transport.Result, 0, len(req.Targets))
	for _, key := range req.Targets {
		it, err := st.Get(req.Service, key)
		if errors.Is(err, backend.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, transport.Result{Target: key, Value: it.Value, HasValue: true, Attributes: it.Attributes})
	}
	return out, nil
}

func (s *Server) search(st backend.Store, req *transport.Request) ([]transport.Result, error) {
	prefixes := req.Targets
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	items, err := s.listPrefixes(st, req.Service, prefixes, false)
	return toResults(items, false), err
}

func (s *Server) write(st backend.Store, req *transport.Request) error {
	items := make([]backend.Item, len(req.Targets))
	for i, key := range req.Targets {
		items[i] = backend.Item{Key: key, Value: req.Values[i], Attributes: req.Attributes}
	}
	return st.Set(req.Service, items)
}

func (s *Server) delete(st backend.Store, req *transport.Request) error {
	keys := req.Targets
	if req.Match == transport.MatchPrefix {
		items, err := s.listPrefixes(st, req.Service, req.Targets, false)
		if err != nil {
			return err
		}
		keys = make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Key
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return st.Delete(req.Service, keys)
}

// listPrefixes lists every prefix and merges the answers: sorted by key,
// each key once even when prefixes overlap.
func (s *Server) listPrefixes(st backend.Store, service string, prefixes []string, withValues bool) ([]backend.Item, error) {
	if len(prefixes) == 1 {
		return st.List(service, prefixes[0], withValues)
	}
	seen := make(map[string]bool)
	var all []backend.Item
	for _, p := range prefixes {
		items, err := st.List(service, p, withValues)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if !seen[it.Key] {
				seen[it.Key] = true
				all = append(all, it)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	return all, nil
}

func toResults(items []backend.Item, withValues bool) []transport.Result {
	out := make([]transport.Result, len(items))
	for i, it := range items {
		out[i] = transport.Result{Target: it.Key, Attributes: it.Attributes, HasValue: withValues}
		if withValues {
			out[i].Value = it.Value
		}
	}
	return out
}
