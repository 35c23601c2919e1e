package backend

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

func bigValue(n int, fill byte) secret.Value {
	return secret.New(strings.Repeat(string(fill), n))
}

func TestWincredSplitsLargeValues(t *testing.T) {
	f := newFakeCredManager()
	w := newWincred(f)
	v := bigValue(64<<10, 'a')
	if err := w.Set("svc", []Item{{Key: "big", Value: v, Attributes: map[string]string{"a": "b"}}}); err != nil {
		t.Fatal(err)
	}
	if n := f.count(credPartPrefix); n != (64<<10+credBlobMax)/credBlobMax {
		t.Errorf("%d part credentials, want %d", n, (64<<10+credBlobMax)/credBlobMax)
	}
	got, err := w.Get("svc", "big")
	if err != nil || got.Value != v || got.Attributes["a"] != "b" {
		t.Fatalf("Get: %d bytes, %v", got.Value.Len(), err)
	}
	// Shrinking to an inline value removes the old parts.
	if err := w.Set("svc", []Item{{Key: "big", Value: secret.New("small")}}); err != nil {
		t.Fatal(err)
	}
	if n := f.count(credPartPrefix); n != 0 {
		t.Errorf("%d part credentials left after an inline overwrite, want 0", n)
	}
	if err := w.Delete("svc", []string{"big"}); err != nil {
		t.Fatal(err)
	}
	if n := f.count(""); n != 0 {
		t.Errorf("%d credentials left after delete, want 0", n)
	}
}

// A reader that looks at the store between any two writes of a chunked
// overwrite sees the old value whole, until the manifest switches to the
// new one whole.
func TestWincredReaderNeverSeesHalfAValue(t *testing.T) {
	f := newFakeCredManager()
	w := newWincred(f)
	old, next := bigValue(10000, 'o'), bigValue(12000, 'n')
	if err := w.Set("svc", []Item{{Key: "k", Value: old}}); err != nil {
		t.Fatal(err)
	}
	reader := newWincred(f) // its own lock, like another process
	seen := map[string]int{}
	f.afterWrite = func(string) {
		it, err := reader.Get("svc", "k")
		switch {
		case err != nil:
			t.Errorf("read during a write: %v", err)
		case it.Value == old:
			seen["old"]++
		case it.Value == next:
			seen["new"]++
		default:
			t.Errorf("read during a write: a %d-byte value that is neither", it.Value.Len())
		}
	}
	if err := w.Set("svc", []Item{{Key: "k", Value: next}}); err != nil {
		t.Fatal(err)
	}
	if seen["old"] == 0 || seen["new"] == 0 {
		t.Fatalf("reads saw %v; want the old value, then the new one", seen)
	}
}

func TestWincredFailedChunkedWriteKeepsOldValue(t *testing.T) {
	for _, failOn := range []string{"part", "manifest"} {
		t.Run(failOn, func(t *testing.T) {
			f := newFakeCredManager()
			w := newWincred(f)
			old := bigValue(6000, 'o')
			if err := w.Set("svc", []Item{{Key: "k", Value: old}}); err != nil {
				t.Fatal(err)
			}
			parts := f.count(credPartPrefix)
			writes := 0
			f.failWrite = func(target string) bool {
				if failOn == "manifest" {
					return strings.HasPrefix(target, credPrefix)
				}
				writes++
				return strings.HasPrefix(target, credPartPrefix) && writes == 2
			}
			err := w.Set("svc", []Item{{Key: "k", Value: bigValue(9000, 'n')}})
			if !errors.Is(err, errFakeWrite) {
				t.Fatalf("Set: %v, want the injected failure", err)
			}
			f.failWrite = nil
			got, err := w.Get("svc", "k")
			if err != nil || got.Value != old {
				t.Fatalf("after a failed write: %d bytes, %v; want the old value", got.Value.Len(), err)
			}
			if n := f.count(credPartPrefix); n != parts {
				t.Errorf("%d part credentials, want %d (no orphans of the failed write)", n, parts)
			}
		})
	}
}

func TestWincredTargetsAreCaseAndSeparatorSafe(t *testing.T) {
	f := newFakeCredManager()
	w := newWincred(f)
	pairs := [][2]string{{"Svc", "Key"}, {"svc", "key"}, {"a:b", "c"}, {"a", "b:c"}, {"a", "b*"}, {"a", "b%3A"}, {"ü", "ключ"}}
	for i, p := range pairs {
		if err := w.Set(p[0], []Item{{Key: p[1], Value: secret.New(strings.Repeat("v", i+1))}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range pairs {
		got, err := w.Get(p[0], p[1])
		if err != nil || got.Value.Len() != i+1 {
			t.Errorf("Get(%q, %q): %d bytes, %v; want %d (names merged?)", p[0], p[1], got.Value.Len(), err, i+1)
		}
	}
	if n := f.count(credPrefix); n != len(pairs) {
		t.Errorf("%d credentials, want %d", n, len(pairs))
	}
}

var escapedByte = regexp.MustCompile("%[0-9A-F]{2}")

func TestCredEscapeRoundTripAndCanonical(t *testing.T) {
	for _, s := range []string{"", "abc", "A", "a:b/c*d%e", "ü", "\x00", "a b"} {
		e := credEscape(s)
		if raw := escapedByte.ReplaceAllString(e, ""); strings.ContainsAny(raw, ":*%ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("escape(%q) = %q holds a separator or a raw upper-case letter", s, e)
		}
		if d, err := credUnescape(e); err != nil || d != s {
			t.Errorf("unescape(escape(%q)) = %q, %v", s, d, err)
		}
	}
	for _, bad := range []string{"A", "%3a", "%61", "%", "%4", "a:b", "a*"} {
		if d, err := credUnescape(bad); err == nil {
			t.Errorf("unescape(%q) = %q, want an error (not canonical)", bad, d)
		}
	}
}

func TestWincredInfo(t *testing.T) {
	inf := newWincred(newFakeCredManager()).Info()
	if inf.Name != NameWincred || inf.AtomicBatch {
		t.Fatalf("Info = %+v", inf)
	}
}
