package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"unicode/utf8"
)

// MaxResponseLine bounds one response line read by Client; a prefix read of
// many items can be much longer than a request.
const MaxResponseLine = 64 << 20

// Client speaks the protocol over one connection: one request, one
// response, in order. It is safe for concurrent use; calls are serialized.
type Client struct {
	mu    sync.Mutex
	conn  net.Conn
	lines *LineReader
}

// NewClient wraps a connection, usually from Dial.
func NewClient(conn net.Conn) *Client {
	return &Client{conn: conn, lines: NewLineReader(conn, MaxResponseLine)}
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Do sends req (Type defaults to REQUEST) and returns the daemon's
// response. A denied or error response is returned as a Response, not an
// error; use Response.Err to turn it into one. The error result is for
// failures of the connection or the protocol.
func (c *Client) Do(req *Request) (*Response, error) {
	line, err := marshalRequest(req)
	if err != nil {
		return nil, err
	}
	raw, err := c.roundTrip(line)
	clear(line) // it held the values in clear
	if err != nil {
		return nil, err
	}
	var resp Response
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	if resp.Type != TypeResponse {
		return nil, errors.New("decode response: not a RESPONSE message")
	}
	return &resp, nil
}

// Status asks the daemon for its StatusInfo. A refusal (for example
// too_many_connections) is a *ResponseError.
func (c *Client) Status() (*StatusInfo, error) {
	raw, err := c.roundTrip([]byte(`{"type":"STATUS"}` + "\n"))
	if err != nil {
		return nil, err
	}
	var head struct{ Type, Status, Reason, Hint string }
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	switch head.Type {
	case TypeStatus:
		var info StatusInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("decode status: %w", err)
		}
		return &info, nil
	case TypeResponse:
		return nil, &ResponseError{Status: head.Status, Reason: head.Reason, Hint: head.Hint}
	}
	return nil, errors.New("decode status: unexpected message type")
}

// roundTrip writes one line and reads one back. The returned line is a
// copy, independent of the reader's buffer.
func (c *Client) roundTrip(line []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.conn.Write(line); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	raw, err := c.lines.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return append([]byte(nil), raw...), nil
}

// ErrValueNotUTF8 is returned by Client.Do for a value that is not valid
// UTF-8: JSON strings carry text, so the value could not arrive unchanged.
// Nothing is sent.
var ErrValueNotUTF8 = errors.New("encode request: a value is not valid UTF-8")

// requestWire is Request with its values revealed, used only to encode the
// line a client sends; Request itself marshals values as REDACTED.
type requestWire struct {
	Type       string            `json:"type"`
	Action     string            `json:"action"`
	Service    string            `json:"service"`
	Match      string            `json:"match,omitempty"`
	Targets    []string          `json:"targets,omitempty"`
	Values     []string          `json:"values,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// marshalRequest encodes req as one line, newline included.
func marshalRequest(req *Request) ([]byte, error) {
	w := requestWire{
		Type: req.Type, Action: req.Action, Service: req.Service, Match: req.Match,
		Targets: req.Targets, Attributes: req.Attributes,
	}
	if w.Type == "" {
		w.Type = TypeRequest
	}
	for _, v := range req.Values {
		if !utf8.ValidString(v.Reveal()) {
			// encoding/json would send U+FFFD for each bad byte, and
			// the daemon would store a value other than the one given.
			return nil, ErrValueNotUTF8
		}
		w.Values = append(w.Values, v.Reveal())
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return append(b, '\n'), nil
}
