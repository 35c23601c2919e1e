package transport

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

var lim = Limits{MaxTargets: 4}

func TestParseRequestGood(t *testing.T) {
	cases := []struct {
		name, line string
		want       Request
	}{
		{"exact read, match defaulted", `{"type":"REQUEST","action":"read","service":"svc","targets":["k"]}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: "svc", Match: MatchExact, Targets: []string{"k"}}},
		{"keys in any order, whitespace", " { \"targets\" : [ \"a\" , \"b\" ] ,\t\"service\":\"s\", \"action\":\"delete\",\"type\":\"REQUEST\" } \r",
			Request{Type: TypeRequest, Action: ActionDelete, Service: "s", Match: MatchExact, Targets: []string{"a", "b"}}},
		{"prefix read", `{"type":"REQUEST","action":"read","service":"s","match":"prefix","targets":["db/"]}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: "s", Match: MatchPrefix, Targets: []string{"db/"}}},
		{"prefix read, empty prefix", `{"type":"REQUEST","action":"read","service":"s","match":"prefix","targets":[""]}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: "s", Match: MatchPrefix, Targets: []string{""}}},
		{"search without targets", `{"type":"REQUEST","action":"search","service":"s"}`,
			Request{Type: TypeRequest, Action: ActionSearch, Service: "s", Match: MatchExact}},
		{"search with empty targets", `{"type":"REQUEST","action":"search","service":"s","targets":[]}`,
			Request{Type: TypeRequest, Action: ActionSearch, Service: "s", Match: MatchExact}},
		{"search with prefix filters", `{"type":"REQUEST","action":"search","service":"s","match":"prefix","targets":["a",""]}`,
			Request{Type: TypeRequest, Action: ActionSearch, Service: "s", Match: MatchPrefix, Targets: []string{"a", ""}}},
		{"write with attributes", `{"type":"REQUEST","action":"write","service":"s","targets":["k1","k2"],"values":["v1",""],"attributes":{"note":"x"}}`,
			Request{Type: TypeRequest, Action: ActionWrite, Service: "s", Match: MatchExact, Targets: []string{"k1", "k2"},
				Values: []secret.Value{"v1", ""}, Attributes: map[string]string{"note": "x"}}},
		{"escapes decoded", `{"type":"REQUEST","action":"write","service":"s","targets":["k\"\\\/"],"values":["a\nb\u00e9\ud83d\ude00\u0000"]}`,
			Request{Type: TypeRequest, Action: ActionWrite, Service: "s", Match: MatchExact, Targets: []string{`k"\/`},
				Values: []secret.Value{"a\nb\u00e9\U0001F600\x00"}}},
		{"raw UTF-8 kept", `{"type":"REQUEST","action":"read","service":"сервис","targets":["ключ"]}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: "сервис", Match: MatchExact, Targets: []string{"ключ"}}},
		{"empty values and attributes tolerated off write", `{"type":"REQUEST","action":"read","service":"s","targets":["k"],"values":[],"attributes":{}}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: "s", Match: MatchExact, Targets: []string{"k"}}},
		{"max targets", `{"type":"REQUEST","action":"delete","service":"s","targets":["a","b","c","d"]}`,
			Request{Type: TypeRequest, Action: ActionDelete, Service: "s", Match: MatchExact, Targets: []string{"a", "b", "c", "d"}}},
		{"null targets on search (the original's Go client)", `{"type":"REQUEST","action":"search","service":"s","targets":null}`,
			Request{Type: TypeRequest, Action: ActionSearch, Service: "s", Match: MatchExact}},
		{"null match, values, attributes are absent", `{"type":"REQUEST","action":"read","service":"s","match":null,"targets":["k"],"values":null,"attributes":null}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: "s", Match: MatchExact, Targets: []string{"k"}}},
		{"null attributes on write", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"],"attributes" : null }`,
			Request{Type: TypeRequest, Action: ActionWrite, Service: "s", Match: MatchExact, Targets: []string{"k"}, Values: []secret.Value{"v"}}},
		{"service of 256 bytes", `{"type":"REQUEST","action":"read","service":"` + strings.Repeat("s", 256) + `","targets":["k"]}`,
			Request{Type: TypeRequest, Action: ActionRead, Service: strings.Repeat("s", 256), Match: MatchExact, Targets: []string{"k"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tc.line), lim)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got %#v\nwant %#v", *got, tc.want)
			}
		})
	}
}

func TestParseRequestBad(t *testing.T) {
	const head = `{"type":"REQUEST","action":"read","service":"s",`
	cases := []struct{ name, line string }{
		{"empty line", ``},
		{"whitespace only", `   `},
		{"not an object", `["REQUEST"]`},
		{"null", `null`},
		{"string", `"REQUEST"`},
		{"empty object", `{}`},
		{"case-folded duplicate", `{"type":"REQUEST","action":"read","ACTION":"delete","service":"s","targets":["k"]}`},
		{"exact duplicate key", `{"type":"REQUEST","action":"read","action":"delete","service":"s","targets":["k"]}`},
		{"duplicate type", `{"type":"REQUEST","type":"REQUEST","action":"read","service":"s","targets":["k"]}`},
		{"unknown key", head + `"targets":["k"],"extra":"x"}`},
		{"capitalised key", `{"Type":"REQUEST","action":"read","service":"s","targets":["k"]}`},
		{"missing type", `{"action":"read","service":"s","targets":["k"]}`},
		{"wrong type value", `{"type":"request","action":"read","service":"s","targets":["k"]}`},
		{"type RESPONSE", `{"type":"RESPONSE","action":"read","service":"s","targets":["k"]}`},
		{"STATUS via ParseRequest", `{"type":"STATUS"}`},
		{"missing action", `{"type":"REQUEST","service":"s","targets":["k"]}`},
		{"unknown action", `{"type":"REQUEST","action":"list","service":"s","targets":["k"]}`},
		{"action case", `{"type":"REQUEST","action":"READ","service":"s","targets":["k"]}`},
		{"missing service", `{"type":"REQUEST","action":"read","targets":["k"]}`},
		{"empty service", `{"type":"REQUEST","action":"read","service":"","targets":["k"]}`},
		{"long service", `{"type":"REQUEST","action":"read","service":"` + strings.Repeat("s", 257) + `","targets":["k"]}`},
		{"control char in service", `{"type":"REQUEST","action":"read","service":"a\u0007b","targets":["k"]}`},
		{"C1 control in service", `{"type":"REQUEST","action":"read","service":"a\u0085b","targets":["k"]}`},
		{"bad match", head + `"match":"glob","targets":["k"]}`},
		{"empty match", head + `"match":"","targets":["k"]}`},
		{"missing targets", head[:len(head)-1] + `}`},
		{"empty targets", head + `"targets":[]}`},
		{"empty exact target", head + `"targets":[""]}`},
		{"duplicate targets", head + `"targets":["a","b","a"]}`},
		{"too many targets", head + `"targets":["a","b","c","d","e"]}`},
		{"NUL in target", head + `"targets":["a\u0000b"]}`},
		{"values on read", head + `"targets":["k"],"values":["v"]}`},
		{"attributes on read", head + `"targets":["k"],"attributes":{"a":"b"}}`},
		{"write without values", `{"type":"REQUEST","action":"write","service":"s","targets":["k"]}`},
		{"write with fewer values", `{"type":"REQUEST","action":"write","service":"s","targets":["k","l"],"values":["v"]}`},
		{"write with more values", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v","w"]}`},
		{"write with prefix", `{"type":"REQUEST","action":"write","service":"s","match":"prefix","targets":["k"],"values":["v"]}`},
		{"empty attribute key", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"],"attributes":{"":"x"}}`},
		{"duplicate attribute key", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"],"attributes":{"a":"x","a":"y"}}`},
		{"delete with empty prefix", `{"type":"REQUEST","action":"delete","service":"s","match":"prefix","targets":[""]}`},
		{"targets is a string", head + `"targets":"k"}`},
		{"targets null on read (absent, and read needs targets)", head + `"targets":null}`},
		{"targets null, then given", head + `"targets":null,"targets":["k"]}`},
		{"targets given, then null", head + `"targets":["k"],"targets":null}`},
		{"match null twice", head + `"match":null,"match":null,"targets":["k"]}`},
		{"write with null values", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":null}`},
		{"null with trailing letters", `{"type":"REQUEST","action":"search","service":"s","targets":nullx}`},
		{"NULL in capitals", `{"type":"REQUEST","action":"search","service":"s","targets":NULL}`},
		{"action is null", `{"type":"REQUEST","action":null,"service":"s","targets":["k"]}`},
		{"service is null", `{"type":"REQUEST","action":"read","service":null,"targets":["k"]}`},
		{"unknown key with null", head + `"targets":["k"],"extra":null}`},
		{"null value in values", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":[null]}`},
		{"null attribute value", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"],"attributes":{"a":null}}`},
		{"target is a number", head + `"targets":[1]}`},
		{"target is null", head + `"targets":[null]}`},
		{"nested array", head + `"targets":[["k"]]}`},
		{"service is a number", `{"type":"REQUEST","action":"read","service":5,"targets":["k"]}`},
		{"action is true", `{"type":"REQUEST","action":true,"service":"s","targets":["k"]}`},
		{"type is null", `{"type":null,"action":"read","service":"s","targets":["k"]}`},
		{"attribute value number", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"],"attributes":{"a":1}}`},
		{"attributes is an array", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["v"],"attributes":[]}`},
		{"trailing object", head + `"targets":["k"]}{}`},
		{"trailing garbage", head + `"targets":["k"]} x`},
		{"trailing comma in object", head + `"targets":["k"],}`},
		{"trailing comma in array", head + `"targets":["k",]}`},
		{"missing colon", `{"type" "REQUEST"}`},
		{"unterminated object", head + `"targets":["k"]`},
		{"unterminated string", `{"type":"REQUES`},
		{"single quotes", `{'type':'REQUEST'}`},
		{"raw newline in string", head + "\"targets\":[\"a\nb\"]}"},
		{"raw tab in string", head + "\"targets\":[\"a\tb\"]}"},
		{"invalid UTF-8 in value", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["` + "\xff\xfe" + `"]}`},
		{"overlong UTF-8", head + `"targets":["` + "\xc0\xaf" + `"]}`},
		{"encoded surrogate in UTF-8", head + `"targets":["` + "\xed\xa0\x80" + `"]}`},
		{"lone high surrogate escape", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["\ud800"]}`},
		{"lone low surrogate escape", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["\udc00"]}`},
		{"high surrogate then non-surrogate", `{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["\ud800\u0041"]}`},
		{"bad escape", head + `"targets":["\x41"]}`},
		{"short unicode escape", head + `"targets":["\u41"]}`},
		{"escaped key name", `{"typ\u0065":"REQUEST","action":"read","service":"s","targets":["k"]}`},
		{"BOM before object", "\xef\xbb\xbf" + head + `"targets":["k"]}`},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d bad cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tc.line), lim)
			if err == nil {
				t.Fatalf("ParseRequest accepted it: %#v", got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

// TestEscapedKeyName: a key spelled with escapes is refused even when it
// decodes to a known name, so a reader that does not decode key escapes
// cannot see a different request than we do.
func TestEscapedKeyName(t *testing.T) {
	for _, line := range []string{
		`{"typ\u0065":"REQUEST","action":"read","service":"s","targets":["k"]}`,
		`{"type":"REQUEST","typ\u0065":"REQUEST","action":"read","service":"s","targets":["k"]}`,
		`{"type":"REQUEST","action":"read","service":"s","targets":["k"],"\u0041CTION":"delete"}`,
	} {
		if _, err := ParseRequest([]byte(line), lim); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRequest(%s) = %v, want ErrMalformed", line, err)
		}
	}
}

func TestParseErrorsDoNotEchoContent(t *testing.T) {
	const marker = "MARKER-8f3a-secret"
	lines := []string{
		`{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["` + marker + `","x"]}`,
		`{"type":"REQUEST","action":"read","service":"s","targets":["k"],"values":["` + marker + `"]}`,
		`{"type":"REQUEST","action":"read","service":"s","targets":["k"],"` + marker + `":"x"}`,
		`{"type":"REQUEST","action":"` + marker + `","service":"s","targets":["k"]}`,
		`{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["` + marker + `\ud800"]}`,
		`{"type":"REQUEST","action":"write","service":"s","targets":["k"],"values":["` + marker + `"]} ` + marker,
	}
	for _, line := range lines {
		_, err := ParseRequest([]byte(line), lim)
		if err == nil {
			t.Fatalf("accepted %q", line)
		}
		if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "MARKER") {
			t.Errorf("error echoes content: %v", err)
		}
	}
}

func TestParseMessageStatus(t *testing.T) {
	got, err := ParseMessage([]byte(`{"type":"STATUS"}`), lim)
	if err != nil {
		t.Fatalf("ParseMessage: %v", err)
	}
	if !reflect.DeepEqual(*got, Request{Type: TypeStatus}) {
		t.Errorf("got %#v, want a bare STATUS", *got)
	}
	if got, err := ParseMessage([]byte(`{"type":"STATUS","targets":null}`), lim); err != nil || got.Type != TypeStatus {
		t.Errorf("STATUS with null targets (absent) = %v, %v", got, err)
	}
	for _, bad := range []string{`{"type":"STATUS","action":"read"}`, `{"type":"status"}`, `{"type":"STATUS","type":"STATUS"}`,
		`{"type":"STATUS","action":null}`, `{"type":"UNLOCK","passphrase":null}`, `{"type":"STATUS","targets":null,"targets":null}`} {
		if _, err := ParseMessage([]byte(bad), lim); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseMessage(%s) = %v, want ErrMalformed", bad, err)
		}
	}
	req, err := ParseMessage([]byte(`{"type":"REQUEST","action":"search","service":"s"}`), lim)
	if err != nil || req.Type != TypeRequest {
		t.Errorf("ParseMessage(REQUEST) = %v, %v", req, err)
	}
}

func TestDefaultMaxTargets(t *testing.T) {
	targets := make([]string, DefaultMaxTargets+1)
	for i := range targets {
		targets[i] = strings.Repeat("k", i+1)
	}
	mk := func(n int) []byte {
		return []byte(`{"type":"REQUEST","action":"read","service":"s","targets":["` + strings.Join(targets[:n], `","`) + `"]}`)
	}
	if _, err := ParseRequest(mk(DefaultMaxTargets), Limits{}); err != nil {
		t.Errorf("%d targets refused: %v", DefaultMaxTargets, err)
	}
	if _, err := ParseRequest(mk(DefaultMaxTargets+1), Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d targets: got %v, want ErrMalformed", DefaultMaxTargets+1, err)
	}
}
