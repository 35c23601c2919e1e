package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// pieces are the parts of the strings the test builds: plain text, every
// character encoding/json escapes, multi-byte UTF-8, and invalid UTF-8.
var pieces = []string{
	"", "a", "/usr/bin/tool", "sha256:00ff", " ", `"`, `\`, "<", ">", "&",
	"\x00", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
	"é", "日本", "😀", "\u2028", "\u2029", "\ufffd",
	"\xff", "\xc0", "\x80", "\xe2\x80", "\xed\xa0\x80",
}

func randomString(rng *rand.Rand) string {
	var b []byte
	for range rng.IntN(5) {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return string(b)
}

func randomStrings(rng *rand.Rand) []string {
	switch rng.IntN(3) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	var ss []string
	for range 1 + rng.IntN(3) {
		ss = append(ss, randomString(rng))
	}
	return ss
}

var zones = []*time.Location{time.UTC, time.FixedZone("x", 5*3600+30*60), time.FixedZone("y", -(23*3600 + 59*60)), time.FixedZone("z", 45)}

func randomRecord(rng *rand.Rand) Record {
	r := Record{
		Time: time.Unix(rng.Int64N(1<<34)-1<<33, rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))]),
		PID:  rng.IntN(3) * rng.IntN(1<<22),
		UID:  uint32(rng.IntN(2) * rng.IntN(1<<31)),
		Path: randomString(rng), Hash: randomString(rng), Script: randomString(rng),
		Service: randomString(rng), Action: randomString(rng), Match: randomString(rng),
		Targets: randomStrings(rng), Status: randomString(rng), Reason: randomString(rng),
		Assurance: randomString(rng), RelaxedEnv: randomStrings(rng), Detail: randomString(rng),
	}
	if rng.IntN(2) == 0 {
		r.Courier = &Party{PID: rng.IntN(1 << 22), Path: randomString(rng), Hash: randomString(rng)}
	}
	return r
}

// TestAppendLineMatchesMarshal: the audit line written without reflection
// is byte for byte what json.Marshal wrote, over 20,000 generated records
// (every escape, invalid UTF-8, HTML characters, empty and absent fields,
// times in other zones and with and without fractions of a second).
func TestAppendLineMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		r := randomRecord(rng)
		want, err := json.Marshal(r)
		got, ok := r.appendLine(nil)
		if err != nil || !ok {
			if ok || err == nil {
				t.Fatalf("record %d: marshal error %v, appendLine ok %v", i, err, ok)
			}
			continue
		}
		if !bytes.Equal(got, append(want, '\n')) {
			t.Fatalf("record %d differs\n got: %q\nwant: %q", i, got, want)
		}
	}
}

// TestAppendLineRefusesWhatMarshalRefuses: times json.Marshal cannot write
// go to it (and its error), not to a line that says something else.
func TestAppendLineRefusesWhatMarshalRefuses(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600)),
	} {
		r := Record{Time: tm, Status: "success"}
		if _, err := json.Marshal(r); err == nil {
			t.Fatalf("%v: json.Marshal accepts it; the test's premise is wrong", tm)
		}
		if _, ok := r.appendLine(nil); ok {
			t.Errorf("%v: appendLine wrote a line json.Marshal refuses", tm)
		}
	}
}
