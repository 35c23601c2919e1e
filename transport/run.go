package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// TypeRun is the message keychain-auth's own CLI sends for `keychain-auth
// run`: read the values of one service for a program it is about to start.
//
//	{"type":"RUN","service":"svc","match":"exact|prefix","targets":["..."],"program_fd":"3"}
//
// program_fd (a decimal string, optional) is the number of a descriptor the
// sending process holds open on the file it will execute; the daemon opens
// it through /proc/PID/fd/N and identifies that file (path and hash) as the
// PROGRAM. Nothing is passed over the socket (the socket still refuses
// descriptors). The answer is an ordinary RESPONSE with results, as for a
// read. See docs/protocol.md, "RUN".
const TypeRun = "RUN"

// Reason codes of RUN, beside those of a read.
const (
	// ReasonRunProgramWritable (denied): the program to run is a file the
	// caller's uid could rewrite between the daemon's check and the exec
	// (it owns the file, or it is group- or world-writable, or carries an
	// ACL), so its hash would not say what runs.
	ReasonRunProgramWritable = "run_program_writable"
	// ReasonRunProgramUnsupported (denied): the program to run cannot be
	// authorized on its own account: a script (#!), a file that is not a
	// regular file, a RUN without program_fd, a sender that is not
	// keychain-auth's own CLI, or a platform where the daemon cannot open
	// the sender's descriptor.
	ReasonRunProgramUnsupported = "run_program_unsupported"
)

// RunRequest is a parsed RUN message.
type RunRequest struct {
	Service string
	// Match is MatchExact or MatchPrefix (never empty after parsing).
	Match   string
	Targets []string
	// ProgramFD is the sender's descriptor on the program, -1 when absent.
	ProgramFD int
}

// ReadRequest is the read the RUN asks for, as the caller's own request
// would be (the "as the caller" way is decided exactly like this read).
func (r *RunRequest) ReadRequest() *Request {
	return &Request{Type: TypeRequest, Action: ActionRead, Service: r.Service, Match: r.Match, Targets: r.Targets}
}

// maxProgramFD bounds program_fd: descriptors beyond it are not a CLI's.
const maxProgramFD = 1 << 20

// ParseRun returns the RUN message in line, (nil, nil) when line is not a
// RUN message (the caller then parses it as any other line), or an error
// wrapping ErrMalformed for a RUN message that breaks the rules: the keys
// of a request plus program_fd, strictly (exact names, no duplicates, no
// unknown keys), a service, targets as for an exact or prefix read.
func ParseRun(line []byte, lim Limits) (*RunRequest, error) {
	if !bytes.Contains(line, []byte(`"RUN"`)) {
		return nil, nil // fast path: every other line
	}
	raw, unknown, err := decodeRun(line)
	if raw == nil || raw.typ != TypeRun {
		return nil, nil
	}
	switch {
	case err != nil:
		return nil, err
	case unknown:
		return nil, fmt.Errorf("%w: a RUN message takes type, service, match, targets and program_fd only", ErrMalformed)
	}
	raw.action = ActionRead
	if err := raw.validateHead(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	if err := raw.validateTargets(lim); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	fd := -1
	if raw.fd != nil {
		n, err := strconv.Atoi(*raw.fd)
		if err != nil || n < 0 || n > maxProgramFD || strconv.Itoa(n) != *raw.fd {
			return nil, fmt.Errorf("%w: program_fd must be a descriptor number", ErrMalformed)
		}
		fd = n
	}
	return &RunRequest{Service: raw.service, Match: raw.match, Targets: raw.targets, ProgramFD: fd}, nil
}

// runRaw is a decoded RUN line before validation.
type runRaw struct {
	rawRequest
	fd *string // program_fd, nil when absent
}

// decodeRun reads the object strictly. It returns raw (nil only when the
// line is not an object at all), whether a key outside RUN's set appeared
// (its value skipped, so that a REQUEST line is still recognised as not
// RUN), and the first error.
func decodeRun(line []byte) (raw *runRaw, unknown bool, err error) {
	s := &scanner{data: line}
	if !s.consume('{') {
		return nil, false, s.fail("want a JSON object")
	}
	raw = &runRaw{}
	if s.consume('}') {
		return raw, false, nil
	}
	seen := map[string]bool{}
	for {
		at := s.pos
		key, err := s.str("key")
		if err != nil {
			return raw, unknown, err
		}
		if seen[key] || bytes.IndexByte(s.data[at:s.pos], '\\') >= 0 {
			return raw, unknown, s.fail("duplicate or escaped key at offset %d", at)
		}
		seen[key] = true
		if !s.consume(':') {
			return raw, unknown, s.fail("want ':' at offset %d", s.pos)
		}
		known, err := raw.runMember(s, key)
		if err != nil {
			return raw, unknown, err
		}
		unknown = unknown || !known
		if s.consume('}') {
			break
		}
		if !s.consume(',') {
			return raw, unknown, s.fail("want ',' or '}' at offset %d", s.pos)
		}
	}
	if s.ws(); s.pos != len(s.data) {
		return raw, unknown, s.fail("data after the object at offset %d", s.pos)
	}
	return raw, unknown, nil
}

// runMember reads one member's value; known is false for a key RUN does
// not take (its value is skipped).
func (raw *runRaw) runMember(s *scanner, key string) (known bool, err error) {
	switch key {
	case "type":
		raw.typ, err = s.str(key)
	case "service":
		raw.service, err = s.str(key)
	case "match":
		if !s.null() {
			raw.match, err = s.str(key)
			raw.given |= fMatch
		}
	case "targets":
		if !s.null() {
			raw.targets, err = s.strings(key)
		}
	case "program_fd":
		var v string
		if v, err = s.str(key); err == nil {
			raw.fd = &v
		}
	default:
		return false, skipValue(s)
	}
	return true, err
}

// skipValue skips a value of a shape a client line may carry.
func skipValue(s *scanner) error {
	switch s.next() {
	case 'n':
		if s.null() {
			return nil
		}
	case '"':
		_, err := s.str("value")
		return err
	case '[':
		_, err := s.strings("value")
		return err
	case '{':
		_, err := s.stringMap("value")
		return err
	}
	return s.fail("unexpected value at offset %d", s.pos)
}

// runWire is a RunRequest as the CLI sends it.
type runWire struct {
	Type      string   `json:"type"`
	Service   string   `json:"service"`
	Match     string   `json:"match,omitempty"`
	Targets   []string `json:"targets"`
	ProgramFD string   `json:"program_fd,omitempty"`
}

// Run sends a RUN message and returns the daemon's response (a refusal is
// a Response, as with Do).
func (c *Client) Run(r *RunRequest) (*Response, error) {
	w := runWire{Type: TypeRun, Service: r.Service, Match: r.Match, Targets: r.Targets}
	if r.ProgramFD >= 0 {
		w.ProgramFD = strconv.Itoa(r.ProgramFD)
	}
	line, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode run request: %w", err)
	}
	raw, err := c.roundTrip(append(line, '\n'))
	if err != nil {
		return nil, err
	}
	var resp Response
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	clear(raw) // it held the values in clear
	if resp.Type != TypeResponse {
		return nil, errors.New("decode response: not a RESPONSE message")
	}
	return &resp, nil
}
