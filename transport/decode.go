package transport

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keychain-auth/keychain-auth/secret"
)

// ErrMalformed is wrapped by every decoding and validation failure; the
// daemon answers it with ReasonMalformed. The wrapping error says what is
// wrong (a field name, an index, an offset) and never repeats content from
// the line.
var ErrMalformed = errors.New("malformed request")

// DefaultMaxTargets is the targets limit used when Limits.MaxTargets is 0.
const DefaultMaxTargets = 1000

// MaxServiceLen is the longest service name accepted, in bytes.
const MaxServiceLen = 256

// Limits bound what one request may ask for.
type Limits struct {
	// MaxTargets is the most targets one request may name; 0 or less means
	// DefaultMaxTargets.
	MaxTargets int
}

// field bits record which keys a line carried.
const (
	fType = 1 << iota
	fAction
	fService
	fMatch
	fTargets
	fValues
	fAttributes
	fPassphrase
	fNewPassphrase
)

// nullable are the keys whose null means the key is absent (spec §3: the
// original's documented Go client sends "targets":null). Every other key
// must carry a value of its type.
const nullable = fMatch | fTargets | fValues | fAttributes

// rawRequest is a decoded line before envelope validation.
type rawRequest struct {
	// seen records every key the line named, null or not, so that a key
	// named twice is refused even when one of the two is null; given
	// records the keys that carried a value.
	seen       int
	given      int
	typ        string
	action     string
	service    string
	match      string
	targets    []string
	values     []string
	attributes map[string]string
	// passphrase and newPassphrase belong to UNLOCK and PASSWD only; they
	// become secret.Value in adminMessage.
	passphrase    string
	newPassphrase string
}

// ParseRequest decodes and validates one request line (without its
// newline). Only {"type":"REQUEST",...} is accepted; a STATUS line is
// malformed here. Every error wraps ErrMalformed.
func ParseRequest(line []byte, lim Limits) (*Request, error) {
	req, err := ParseMessage(line, lim)
	if err != nil {
		return nil, err
	}
	if req.Type != TypeRequest {
		return nil, fmt.Errorf("%w: type must be %s", ErrMalformed, TypeRequest)
	}
	return req, nil
}

// ParseMessage decodes one line from a client, which is either a request or
// one of the admin messages STATUS, LOCK, UNLOCK and PASSWD. It returns a
// Request whose Type tells them apart: TypeRequest (fully validated, as
// ParseRequest) or an admin type, which carries exactly its own keys (STATUS
// and LOCK: none; UNLOCK: passphrase; PASSWD: passphrase and a non-empty
// new_passphrase) and leaves every other field empty. Every error wraps
// ErrMalformed and never contains a passphrase.
func ParseMessage(line []byte, lim Limits) (*Request, error) {
	raw, err := decodeLine(line)
	if err != nil {
		return nil, err
	}
	switch {
	case raw.given&fType == 0:
		return nil, fmt.Errorf("%w: missing type", ErrMalformed)
	case raw.typ != TypeRequest:
		return raw.adminMessage()
	case raw.given&(fPassphrase|fNewPassphrase) != 0:
		return nil, fmt.Errorf("%w: a REQUEST takes no passphrase", ErrMalformed)
	}
	if err := raw.validate(lim); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	return raw.request(), nil
}

// decodeLine reads the top-level object strictly: exact key names, no
// duplicates, no unknown keys, the right JSON type for each, nothing after.
func decodeLine(line []byte) (*rawRequest, error) {
	if !utf8.Valid(line) {
		return nil, fmt.Errorf("%w: invalid UTF-8", ErrMalformed)
	}
	s := &scanner{data: line}
	if !s.consume('{') {
		return nil, s.fail("want a JSON object")
	}
	raw := &rawRequest{}
	if !s.consume('}') {
		if err := raw.members(s); err != nil {
			return nil, err
		}
	}
	if s.ws(); s.pos != len(s.data) {
		return nil, s.fail("data after the object at offset %d", s.pos)
	}
	return raw, nil
}

// members reads key/value pairs up to and including the closing brace.
func (raw *rawRequest) members(s *scanner) error {
	for {
		at := s.pos
		key, err := s.str("key")
		if err != nil {
			return err
		}
		if bytes.IndexByte(s.data[at:s.pos], '\\') >= 0 {
			// Every known key is plain ASCII; one spelled with escapes
			// ("typ\u0065") is refused so no reader can see it differently.
			return s.fail("escaped key name at offset %d", at)
		}
		if !s.consume(':') {
			return s.fail("want ':' at offset %d", s.pos)
		}
		if err := raw.member(s, key, at); err != nil {
			return err
		}
		if s.consume('}') {
			return nil
		}
		if !s.consume(',') {
			return s.fail("want ',' or '}' at offset %d", s.pos)
		}
	}
}

// member reads the value of one key. Key names are compared exactly, so
// "ACTION" is an unknown key, not a second "action".
func (raw *rawRequest) member(s *scanner, key string, at int) error {
	bit := fieldBit(key)
	if bit == 0 {
		return s.fail("unknown key at offset %d", at)
	}
	if raw.seen&bit != 0 {
		return s.fail("duplicate key %q", key)
	}
	raw.seen |= bit
	if bit&nullable != 0 && s.null() {
		return nil
	}
	raw.given |= bit
	var err error
	switch bit {
	case fType:
		raw.typ, err = s.str(key)
	case fAction:
		raw.action, err = s.str(key)
	case fService:
		raw.service, err = s.str(key)
	case fMatch:
		raw.match, err = s.str(key)
	case fTargets:
		raw.targets, err = s.strings(key)
	case fValues:
		raw.values, err = s.strings(key)
	case fAttributes:
		raw.attributes, err = s.stringMap(key)
	case fPassphrase:
		raw.passphrase, err = s.str(key)
	case fNewPassphrase:
		raw.newPassphrase, err = s.str(key)
	}
	return err
}

func fieldBit(key string) int {
	switch key {
	case "passphrase":
		return fPassphrase
	case "new_passphrase":
		return fNewPassphrase
	case "type":
		return fType
	case "action":
		return fAction
	case "service":
		return fService
	case "match":
		return fMatch
	case "targets":
		return fTargets
	case "values":
		return fValues
	case "attributes":
		return fAttributes
	}
	return 0
}

// validate applies the envelope rules of a REQUEST (spec §3).
func (raw *rawRequest) validate(lim Limits) error {
	if err := raw.validateHead(); err != nil {
		return err
	}
	if err := raw.validateTargets(lim); err != nil {
		return err
	}
	return raw.validateWrite()
}

func (raw *rawRequest) validateHead() error {
	switch raw.action {
	case ActionRead, ActionWrite, ActionDelete, ActionSearch:
	default:
		if raw.given&fAction == 0 {
			return errors.New("missing action")
		}
		return errors.New("action must be read, write, delete or search")
	}
	if err := checkService(raw.service); err != nil {
		return err
	}
	if raw.given&fMatch == 0 {
		raw.match = MatchExact
	}
	if raw.match != MatchExact && raw.match != MatchPrefix {
		return errors.New("match must be exact or prefix")
	}
	return nil
}

func checkService(s string) error {
	switch {
	case s == "":
		return errors.New("missing or empty service")
	case len(s) > MaxServiceLen:
		return fmt.Errorf("service longer than %d bytes", MaxServiceLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("control character in service")
	}
	return nil
}

// validateTargets: required and non-empty except for search; exact names
// non-empty; no duplicates; no NUL (native stores truncate at NUL, which
// would address a different item); at most MaxTargets. An empty prefix is
// a filter for read and search, but refused for delete: "delete the whole
// service" must be spelled out key by key.
func (raw *rawRequest) validateTargets(lim Limits) error {
	max := lim.MaxTargets
	if max <= 0 {
		max = DefaultMaxTargets
	}
	switch {
	case raw.action != ActionSearch && len(raw.targets) == 0:
		return errors.New("targets required")
	case len(raw.targets) > max:
		return fmt.Errorf("more than %d targets", max)
	}
	seen := make(map[string]struct{}, len(raw.targets))
	for i, t := range raw.targets {
		if t == "" && !raw.emptyTargetOK() {
			return fmt.Errorf("targets[%d]: empty", i)
		}
		if strings.IndexByte(t, 0) >= 0 {
			return fmt.Errorf("targets[%d]: NUL character", i)
		}
		if _, dup := seen[t]; dup {
			return fmt.Errorf("targets[%d]: duplicate target", i)
		}
		seen[t] = struct{}{}
	}
	return nil
}

func (raw *rawRequest) emptyTargetOK() bool {
	return raw.action == ActionSearch || (raw.action == ActionRead && raw.match == MatchPrefix)
}

// validateWrite: values and attributes belong to write only; a write names
// exact keys and pairs each with a value.
func (raw *rawRequest) validateWrite() error {
	if raw.action != ActionWrite {
		switch {
		case len(raw.values) > 0:
			return errors.New("values are only for write")
		case len(raw.attributes) > 0:
			return errors.New("attributes are only for write")
		}
		return nil
	}
	switch {
	case raw.match == MatchPrefix:
		return errors.New("write takes exact targets, not prefixes")
	case len(raw.values) != len(raw.targets):
		return fmt.Errorf("%d values for %d targets", len(raw.values), len(raw.targets))
	}
	for k, v := range raw.attributes {
		if k == "" {
			return errors.New("attributes: empty key")
		}
		if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			return errors.New("attributes: NUL character")
		}
	}
	return nil
}

// request builds the validated Request. Values become secret.Value here,
// the first moment they have a type.
func (raw *rawRequest) request() *Request {
	req := &Request{
		Type:    raw.typ,
		Action:  raw.action,
		Service: raw.service,
		Match:   raw.match,
	}
	if len(raw.targets) > 0 {
		req.Targets = raw.targets
	}
	if len(raw.values) > 0 {
		req.Values = make([]secret.Value, len(raw.values))
		for i, v := range raw.values {
			req.Values[i] = secret.New(v)
		}
	}
	if len(raw.attributes) > 0 {
		req.Attributes = raw.attributes
	}
	return req
}

// adminKeys is the exact key set of each admin message type.
var adminKeys = map[string]int{
	TypeStatus: fType,
	TypeView:   fType,
	TypeLock:   fType,
	TypeUnlock: fType | fPassphrase,
	TypePasswd: fType | fPassphrase | fNewPassphrase,
}

// adminMessage builds an admin message after checking that it carries
// exactly its own keys (a null request field counts as absent, as it does
// in a REQUEST). Passphrases become secret.Value here.
func (raw *rawRequest) adminMessage() (*Request, error) {
	want, ok := adminKeys[raw.typ]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: type must be %s, %s, %s, %s, %s or %s", ErrMalformed,
			TypeRequest, TypeStatus, TypeView, TypeLock, TypeUnlock, TypePasswd)
	case raw.given != want:
		return nil, fmt.Errorf("%w: a %s message takes exactly the keys of its type", ErrMalformed, raw.typ)
	case raw.typ == TypePasswd && raw.newPassphrase == "":
		return nil, fmt.Errorf("%w: empty new_passphrase", ErrMalformed)
	}
	return &Request{Type: raw.typ, Passphrase: secret.New(raw.passphrase), NewPassphrase: secret.New(raw.newPassphrase)}, nil
}
