// Package policy decides whether an identified caller may make a request,
// from the policy file's content alone. It is pure: no I/O, no clock, no
// logging; the broker fetches the Config, identifies the caller, and logs
// and audits the Decision.
//
// The rules, in order: an interpreter whose script the verifier refused
// (Identity.ScriptRefused) is denied with that reason; the program (the
// script when an interpreter runs one) must match an entry by path and hash;
// a script whose entry pins its interpreter must run under it with exactly
// the pinned options; the caller and any courier
// that relayed for it must carry no injection variable the entry does not
// allow and must not be traced; then the action must fit the entry's
// service lists and can_search. Service names are compared exactly and
// case-sensitively; there are no wildcards. It does not check the request
// envelope (transport.ParseRequest does), but anything it does not
// recognise is denied.
package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// Status is transport.StatusSuccess when allowed, else StatusDenied.
	Status string
	// Reason is a transport reason code; empty when allowed.
	Reason string
	// Entry is the matched policy entry, nil when the caller is unregistered.
	// It points into the Config passed to Decide.
	Entry *config.Entry
	// Hint is a sentence for the person who has to act on a denial (what
	// was refused and the command that would change it). The broker sends
	// it with the denial and writes it to the log and the audit line; it
	// never holds a value.
	Hint string
	// RelaxedEnv lists, sorted, the injection variables present in the
	// caller's (or courier's) environment that the entry allows; the audit
	// line records them.
	RelaxedEnv []string
}

// Decide applies the policy in cfg to a request from id. A nil cfg is an
// empty policy; a nil id or req is denied as unregistered.
func Decide(cfg *config.Config, id *auth.Identity, req *transport.Request) Decision {
	if id == nil || req == nil {
		return deny(nil, transport.ReasonPendingApproval)
	}
	if id.Script == nil && id.ScriptRefused != nil {
		// An interpreter on a script the daemon will not identify: say why,
		// rather than queue the interpreter itself for approval.
		d := deny(nil, id.ScriptRefused.Reason)
		d.Hint = id.ScriptRefused.Detail
		return d
	}
	if id.Courier != nil && id.Script == nil {
		// The CLI relays for scripts only (see ReasonCourierNotScript).
		return deny(nil, transport.ReasonCourierNotScript)
	}
	e := Find(cfg, id.Program())
	if e == nil {
		d := deny(nil, transport.ReasonPendingApproval)
		d.Hint = PendingHint(cfg, id)
		return d
	}
	if d, refused := checkInterpreter(e, id); refused {
		return d
	}
	relaxed, refused := checkEnv(e, id)
	if len(refused) > 0 {
		d := deny(e, transport.ReasonInjectedEnvironment)
		d.Hint = envHint(e.Path, refused)
		return d
	}
	if traced(id) {
		d := deny(e, transport.ReasonTracedProcess)
		d.RelaxedEnv = relaxed
		return d
	}
	d := Decision{Allowed: true, Status: transport.StatusSuccess, Entry: e}
	if reason := checkAction(e, req); reason != "" {
		d = deny(e, reason)
	}
	d.RelaxedEnv = relaxed
	return d
}

// Find returns the entry whose path and hash both equal img's, or nil.
func Find(cfg *config.Config, img auth.Image) *config.Entry {
	if cfg == nil || img.Path == "" || img.Hash == "" {
		return nil
	}
	for i := range cfg.RegisteredBinaries {
		e := &cfg.RegisteredBinaries[i]
		if e.Path == img.Path && e.Hash == img.Hash {
			return e
		}
	}
	return nil
}

// Need is what the `check` command asks of an entry on one service.
type Need struct {
	Read, Write, Search bool
}

// NeedAll is what `check PATH SERVICE` asks without flags: read, write and
// search, as the original keychain-auth meant (and its `authorize` grants).
var NeedAll = Need{Read: true, Write: true, Search: true}

// Check answers the `check` command: registered is whether img matches an
// entry by path and hash; allowed is whether that entry has everything in
// need on service (Search is can_search, which is not per service). An
// empty need is allowed whenever img is registered.
func Check(cfg *config.Config, img auth.Image, service string, need Need) (registered, allowed bool) {
	e := Find(cfg, img)
	if e == nil {
		return false, false
	}
	switch {
	case need.Read && !e.CanRead(service),
		need.Write && !e.CanWrite(service),
		need.Search && !e.CanSearch:
		return true, false
	}
	return true, true
}

func deny(e *config.Entry, reason string) Decision {
	return Decision{Status: transport.StatusDenied, Reason: reason, Entry: e}
}

// checkEnv splits the injection variables of the caller and its courier
// into those the entry allows (relaxed) and those it does not (refused),
// each sorted and without duplicates.
func checkEnv(e *config.Entry, id *auth.Identity) (relaxed, refused []string) {
	found := slices.Clone(id.InjectedEnv)
	if id.Courier != nil {
		found = append(found, id.Courier.InjectedEnv...)
	}
	for _, name := range found {
		if slices.Contains(e.AllowEnv, name) {
			relaxed = append(relaxed, name)
		} else {
			refused = append(refused, name)
		}
	}
	slices.Sort(relaxed)
	slices.Sort(refused)
	return slices.Compact(relaxed), slices.Compact(refused)
}

// envHint names the refused variables and the command that would allow
// them for the entry at path.
func envHint(path string, refused []string) string {
	grant := "keychain-auth grant " + shellQuote(path)
	for _, name := range refused {
		grant += " --allow-env " + name
	}
	return fmt.Sprintf("%s runs with %s in its environment, which can make it load code its hash does not cover; unset it, or if the program needs it: %s",
		path, strings.Join(refused, ", "), grant)
}

// shellQuote returns s as one shell word: as is when it holds only
// characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:,@%=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func traced(id *auth.Identity) bool {
	return id.TracerPID != 0 || (id.Courier != nil && id.Courier.TracerPID != 0)
}

// checkAction returns the reason the entry refuses the request, or "".
func checkAction(e *config.Entry, req *transport.Request) string {
	prefix := false
	switch req.Match {
	case "", transport.MatchExact:
	case transport.MatchPrefix:
		prefix = true
	default:
		return transport.ReasonActionNotInPolicy
	}
	var listed, needSearch bool
	switch req.Action {
	case transport.ActionRead:
		listed, needSearch = e.CanRead(req.Service), prefix
	case transport.ActionSearch:
		listed, needSearch = e.CanRead(req.Service), true
	case transport.ActionDelete:
		listed, needSearch = e.CanWrite(req.Service), prefix
	case transport.ActionWrite:
		if prefix {
			return transport.ReasonActionNotInPolicy
		}
		listed = e.CanWrite(req.Service)
	default:
		return transport.ReasonActionNotInPolicy
	}
	switch {
	case !listed:
		return transport.ReasonServiceNotAllowed
	case needSearch && !e.CanSearch:
		return transport.ReasonActionNotInPolicy
	}
	return ""
}
