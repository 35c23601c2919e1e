package transport

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRequest checks that the strict decoder never panics, that what it
// accepts obeys the envelope rules, that encoding/json reads an accepted
// line the same way (no key-folding or replacement-character surprises),
// and that a request survives the Go client's encoding.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"REQUEST","action":"read","service":"s","targets":["k"]}`,
		`{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v\u00e9\ud83d\ude00"],"attributes":{"a":"b"}}`,
		`{"type":"REQUEST","action":"search","service":"s","match":"prefix","targets":[""]}`,
		`{"type":"REQUEST","action":"read","ACTION":"delete","service":"s","targets":["k"]}`,
		`{"type":"STATUS"}`,
		`{"type":"REQUEST","action":"search","service":"s","targets":null,"match":null,"attributes":null,"values":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := ParseRequest(line, Limits{MaxTargets: 8})
		if err != nil {
			return
		}
		checkInvariants(t, req)
		var loose map[string]any
		if err := json.Unmarshal(line, &loose); err != nil {
			t.Fatalf("accepted a line encoding/json rejects: %v", err)
		}
		if loose["action"] != req.Action || loose["service"] != req.Service || loose["type"] != req.Type {
			t.Fatalf("encoding/json reads it differently: %v vs %#v", loose, req)
		}
		sameStrings(t, "targets", loose["targets"], req.Targets)
		values := make([]string, len(req.Values))
		for i, v := range req.Values {
			values[i] = v.Reveal()
		}
		sameStrings(t, "values", loose["values"], values)
		enc, err := marshalRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRequest(enc[:len(enc)-1], Limits{MaxTargets: 8})
		if err != nil {
			t.Fatalf("re-encoded request refused: %v", err)
		}
		if !reflect.DeepEqual(back, req) {
			t.Fatalf("round trip changed the request:\n%#v\n%#v", req, back)
		}
	})
}

func checkInvariants(t *testing.T, req *Request) {
	t.Helper()
	switch {
	case req.Type != TypeRequest:
		t.Fatalf("type %q accepted", req.Type)
	case req.Match != MatchExact && req.Match != MatchPrefix:
		t.Fatalf("match %q accepted", req.Match)
	case req.Service == "" || len(req.Service) > MaxServiceLen || !utf8.ValidString(req.Service):
		t.Fatalf("bad service accepted")
	case req.Action != ActionSearch && len(req.Targets) == 0:
		t.Fatalf("%s without targets accepted", req.Action)
	case req.Action != ActionWrite && (len(req.Values) > 0 || len(req.Attributes) > 0):
		t.Fatalf("values or attributes on %s accepted", req.Action)
	case req.Action == ActionWrite && (len(req.Values) != len(req.Targets) || req.Match != MatchExact):
		t.Fatalf("bad write accepted")
	}
	seen := map[string]bool{}
	for _, k := range req.Targets {
		if seen[k] || strings.ContainsRune(k, 0) || !utf8.ValidString(k) {
			t.Fatalf("bad or duplicate target accepted")
		}
		seen[k] = true
	}
	for _, v := range req.Values {
		if !utf8.ValidString(v.Reveal()) {
			t.Fatalf("value with invalid UTF-8 accepted")
		}
	}
}

// sameStrings compares what encoding/json decoded with ours.
func sameStrings(t *testing.T, what string, loose any, ours []string) {
	t.Helper()
	arr, _ := loose.([]any)
	if len(arr) != len(ours) {
		t.Fatalf("%s: encoding/json sees %d, we see %d", what, len(arr), len(ours))
	}
	for i, v := range arr {
		if v != ours[i] {
			t.Fatalf("%s[%d]: encoding/json decodes it differently", what, i)
		}
	}
}
