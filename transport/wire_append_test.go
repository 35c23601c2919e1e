package transport

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

// referenceLine is what WriteMessage wrote for a Response before
// appendLine: encoding/json through an Encoder with SetEscapeHTML(false).
func referenceLine(t testing.TB, r *Response) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func checkLine(t testing.TB, r *Response) {
	t.Helper()
	var got bytes.Buffer
	if err := WriteMessage(&got, r); err != nil {
		t.Fatal(err)
	}
	if want := referenceLine(t, r); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("response line differs from encoding/json's\n got: %q\nwant: %q", got.Bytes(), want)
	}
}

// pieces are the parts of the strings the tests build: plain text, every
// character encoding/json escapes, multi-byte UTF-8, and invalid UTF-8.
var pieces = []string{
	"", "a", "db", "svc/k", " ", `"`, `\`, "/", "<", ">", "&", "<script>",
	"\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
	"é", "日本", "😀", "\u2028", "\u2029", "\ufffd", "\u00a0",
	"\xff", "\xc0", "\x80", "\xe2\x80", "\xf0\x9f\x98", "\xed\xa0\x80",
}

func randomString(rng *rand.Rand) string {
	var b []byte
	for range rng.IntN(6) {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return string(b)
}

func randomResponse(rng *rand.Rand) *Response {
	r := &Response{Type: TypeResponse, Status: randomString(rng), Reason: randomString(rng), Hint: randomString(rng)}
	switch rng.IntN(3) {
	case 0: // nil: left out
	case 1:
		r.Results = []Result{} // empty but present
	case 2:
		for range 1 + rng.IntN(3) {
			res := Result{Target: randomString(rng)}
			if rng.IntN(2) == 0 {
				res.Value, res.HasValue = secret.New(randomString(rng)), true
			}
			if n := rng.IntN(3); n > 0 {
				res.Attributes = map[string]string{}
				for range n {
					res.Attributes[randomString(rng)] = randomString(rng)
				}
			}
			r.Results = append(r.Results, res)
		}
	}
	return r
}

// TestResponseLineMatchesEncodingJSON: the answer written without
// reflection is byte for byte what encoding/json wrote, over 20,000
// generated responses (every escape, invalid UTF-8, HTML characters in the
// results and outside them, empty and absent fields, attribute order).
func TestResponseLineMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkLine(t, randomResponse(rng))
	}
	checkLine(t, &Response{Type: TypeResponse, Status: StatusSuccess, Results: []Result{{Target: "db", Value: secret.New(""), HasValue: true}}})
}

func FuzzResponseLine(f *testing.F) {
	f.Add("db", "v", "k", "<v>", "denied", "hint & more")
	f.Add("\xff", "\u2028", "", "\x00", "", "\"\\")
	f.Fuzz(func(t *testing.T, target, value, key, attr, reason, hint string) {
		checkLine(t, &Response{Type: TypeResponse, Status: StatusSuccess, Reason: reason, Hint: hint,
			Results: []Result{{Target: target, Value: secret.New(value), HasValue: true, Attributes: map[string]string{key: attr}}}})
	})
}
