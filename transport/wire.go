// Package transport is the wire between keychain-auth clients and the daemon:
// the newline-delimited JSON message types and reason codes, a strict request
// decoder, line framing with a length limit, the per-OS endpoint, and the
// socket listener and dialer with their ownership checks.
//
// It does not decide anything: it neither identifies the peer process (the
// auth package does) nor authorizes a request (the policy package does). A
// request that passes ParseRequest is well formed, not allowed.
package transport

import (
	"encoding/json"
	"fmt"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Message types (the "type" field).
const (
	TypeRequest  = "REQUEST"
	TypeResponse = "RESPONSE"
	// TypeStatus is both the admin request {"type":"STATUS"} and the type of
	// the StatusInfo answer.
	TypeStatus = "STATUS"
	// TypeView is the request {"type":"VIEW"} and the type of its answer
	// (ViewInfo): the caller's own policy, pending queue and recent audit
	// lines. System mode's users read their data this way, since the files
	// belong to root and the service user.
	TypeView = "VIEW"
	// TypeLock is the admin message {"type":"LOCK"}: lock a lockable store.
	TypeLock = "LOCK"
	// TypeUnlock is the admin message {"type":"UNLOCK","passphrase":"..."}
	// (an empty passphrase unlocks a key-file vault).
	TypeUnlock = "UNLOCK"
	// TypePasswd is the admin message {"type":"PASSWD","passphrase":"old",
	// "new_passphrase":"new"}: re-key the open vault in place. passphrase is
	// empty for a vault protected by a key file.
	TypePasswd = "PASSWD"
)

// Actions.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionDelete = "delete"
	ActionSearch = "search"
)

// Match modes.
const (
	MatchExact  = "exact"
	MatchPrefix = "prefix"
)

// Response statuses.
const (
	StatusSuccess = "success"
	StatusDenied  = "denied"
	StatusError   = "error"
)

// Reason codes sent in Response.Reason. The first five are the original
// protocol's and keep their meaning; clients branch on them. Reasons for
// identity failures are defined by the auth package and travel the same way.
const (
	// ReasonPendingApproval (denied): the caller is not in the policy and was
	// queued for approval; the daemon closes the connection after it.
	ReasonPendingApproval = "unregistered_binary_pending_approval"
	// ReasonServiceNotAllowed (denied): the service is outside the caller's
	// read or write services.
	ReasonServiceNotAllowed = "service_not_allowed"
	// ReasonActionNotInPolicy (denied): search or a prefix read/delete without
	// can_search.
	ReasonActionNotInPolicy = "action_not_in_policy"
	// ReasonMalformed (error): bad JSON, bad envelope, an over-long line.
	ReasonMalformed = "malformed_request"
	// ReasonInternalError (error): the store failed; details stay in the
	// daemon log.
	ReasonInternalError = "internal_error"

	// ReasonPendingQueueFull (denied): the caller is unknown and the pending
	// queue has no room to record it.
	ReasonPendingQueueFull = "pending_queue_full"
	// ReasonStoreLocked (error): the secret store is locked.
	ReasonStoreLocked = "store_locked"
	// ReasonTooManyConnections (error): the daemon is at its connection
	// limit; the connection is closed after this line.
	ReasonTooManyConnections = "too_many_connections"
	// ReasonInjectedEnvironment (denied): the caller runs with loader or
	// interpreter injection variables its policy entry does not allow.
	ReasonInjectedEnvironment = "injected_environment"
	// ReasonTracedProcess (denied): the caller is being traced.
	ReasonTracedProcess = "traced_process"
	// ReasonCourierNotScript (denied): keychain-auth's own CLI relayed the
	// request for a parent that is not a script the daemon could verify (a
	// compiled program, an interactive shell). The CLI relays for scripts
	// only: a program could start the CLI and then exec an approved binary,
	// and the kernel does not say which program started it. Programs speak
	// the protocol on the socket themselves.
	ReasonCourierNotScript = "courier_parent_not_script"
	// ReasonBadPassphrase (denied): UNLOCK or PASSWD carried a passphrase
	// that does not open the vault. The daemon waits a moment before it
	// answers, so guesses over one connection are slow.
	ReasonBadPassphrase = "bad_passphrase"
	// ReasonNotLockable (error): LOCK, UNLOCK or PASSWD sent to a daemon
	// whose store cannot be locked or re-keyed by keychain-auth (a native
	// keyring: lock it with the system's own tools).
	ReasonNotLockable = "not_lockable"
	// ReasonKeychainAuthUpgraded (denied): the caller runs keychain-auth
	// from the path the daemon was started from, but another build of it
	// (an upgrade, or a replaced file), so it is not the daemon's own CLI
	// and relays for nobody. It is not queued for approval; the hint says
	// to restart `serve`. The connection is closed after this line.
	ReasonKeychainAuthUpgraded = "keychain_auth_upgraded"
)

// Request is one client request. ParseRequest fills it from a line and
// guarantees the envelope rules of the protocol; Match is never empty after
// parsing. Values stay secret.Value so that printing or logging a Request
// shows REDACTED; the Go Client reveals them only when it encodes the line.
type Request struct {
	Type       string            `json:"type"`
	Action     string            `json:"action,omitempty"`
	Service    string            `json:"service,omitempty"`
	Match      string            `json:"match,omitempty"`
	Targets    []string          `json:"targets,omitempty"`
	Values     []secret.Value    `json:"values,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Passphrase (UNLOCK, PASSWD: the current one) and NewPassphrase
	// (PASSWD) are set only for the admin messages of those types.
	Passphrase    secret.Value `json:"passphrase,omitempty"`
	NewPassphrase secret.Value `json:"new_passphrase,omitempty"`
}

// Response answers one Request. Reason is empty (and omitted) on success.
// Results is omitted when nil and written as [] when empty, so a read that
// found nothing still carries "results":[].
type Response struct {
	Type    string   `json:"type"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason,omitempty"`
	Results []Result `json:"results,omitzero"`
	// Hint, on some denials, is one sentence for the person who has to act:
	// what was refused and the command that would change it. It never
	// holds a value; clients may show it and must not parse it.
	Hint string `json:"hint,omitempty"`
}

// Result is one item of a read or search answer. Value is sent only when
// HasValue is set (never for search).
type Result struct {
	Target     string
	Value      secret.Value
	HasValue   bool
	Attributes map[string]string
}

// resultWire is Result as it appears on the wire. Value is a pointer so that
// "value" is written only when present and so that decoding can tell an
// empty value from an absent one.
type resultWire struct {
	Target     string            `json:"target"`
	Value      *string           `json:"value,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// MarshalJSON writes the value in clear when HasValue is set: this is the
// one place the daemon reveals a secret, on its way to the client.
func (r Result) MarshalJSON() ([]byte, error) {
	w := resultWire{Target: r.Target, Attributes: r.Attributes}
	if r.HasValue {
		v := r.Value.Reveal()
		w.Value = &v
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a result line written by the daemon (for clients).
func (r *Result) UnmarshalJSON(data []byte) error {
	var w resultWire
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	*r = Result{Target: w.Target, Attributes: w.Attributes}
	if w.Value != nil {
		r.Value, r.HasValue = secret.New(*w.Value), true
	}
	return nil
}

// StatusInfo answers the admin request {"type":"STATUS"}.
type StatusInfo struct {
	Type          string `json:"type"`
	Version       string `json:"version"`
	Backend       string `json:"backend"`
	Endpoint      string `json:"endpoint"`
	UptimeSeconds int64  `json:"uptime_seconds"`
	AtRest        string `json:"at_rest,omitempty"`
	Warning       string `json:"warning,omitempty"`
	// Locked reports a lockable store (the file vault) that is locked now.
	Locked bool `json:"locked"`
	// Mode is "user" (the daemon runs as the user) or "system" (as a
	// service user, with root-owned policy and a tenant per user).
	Mode string `json:"mode,omitempty"`
}

// ResponseError is a non-success Response seen by a client.
type ResponseError struct {
	Status string
	Reason string
	// Hint is the daemon's sentence for a person, when it sent one.
	Hint string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("daemon answered %s: %s", e.Status, e.Reason)
}

// Err returns nil for a success response and a *ResponseError otherwise.
func (r *Response) Err() error {
	if r.Status == StatusSuccess {
		return nil
	}
	return &ResponseError{Status: r.Status, Reason: r.Reason, Hint: r.Hint}
}

// ViewInfo answers VIEW with the caller's tenant only: the policy file's
// JSON, the pending records and the last audit lines, as stored.
type ViewInfo struct {
	Type    string            `json:"type"`
	Config  json.RawMessage   `json:"config"`
	Pending json.RawMessage   `json:"pending"`
	Audit   []json.RawMessage `json:"audit"`
}
