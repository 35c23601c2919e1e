//go:build linux

package auth

import (
	"net"
	"slices"
	"testing"
	"time"
)

// BenchmarkCheckedRequest measures the per-request cost of the checks: a
// request chunk written, Read through the sender check, then Identify,
// once with every check on and once with every test-only weakening switch
// on (the closest thing to the same path without them), alternating in
// one loop so both see the same machine load. It reports the median of
// each, and their ratio (the goal: checked within 2x of unchecked). The
// peer is this process (a real connection; the hash cache is warm, as for
// a client that asks more than once).
func BenchmarkCheckedRequest(b *testing.B) {
	checked := benchSelfPeer(b, Weakening{})
	unchecked := benchSelfPeer(b, Weakening{NoSenderCheck: true, NoPidfd: true, NoNamespaceCheck: true,
		NoFilesystemCheck: true, NoImageChecks: true, NoScriptArgvCheck: true, NoScriptFileCheck: true,
		NoExecCheck: true})
	peers := [2]*benchSelf{checked, unchecked}
	var samples [2][]time.Duration
	for _, p := range peers {
		p.request(b) // warm the hash cache
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, p := range peers {
			start := time.Now()
			p.request(b)
			samples[k] = append(samples[k], time.Since(start))
		}
	}
	b.StopTimer()
	med := [2]float64{median(samples[0]), median(samples[1])}
	b.ReportMetric(med[0], "checked-ns/req")
	b.ReportMetric(med[1], "unchecked-ns/req")
	b.ReportMetric(med[0]/med[1], "ratio")
}

type benchSelf struct {
	cc  net.Conn
	p   *Peer
	buf []byte
}

var benchMsg = []byte(`{"type":"REQUEST","action":"read","service":"s","targets":["k"]}` + "\n")

func (s *benchSelf) request(b *testing.B) {
	if _, err := s.cc.Write(benchMsg); err != nil {
		b.Fatal(err)
	}
	if _, err := s.p.Read(s.buf); err != nil {
		b.Fatal(err)
	}
	if _, err := s.p.Identify(); err != nil {
		b.Fatal(err)
	}
}

func benchSelfPeer(b *testing.B, w Weakening) *benchSelf {
	v, err := NewVerifier(WithWeakening(Options{}, w))
	if err != nil {
		b.Fatal(err)
	}
	l, sock := listen(b, "")
	cc, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	c, err := l.AcceptUnix()
	if err != nil {
		b.Fatal(err)
	}
	p, err := v.Accept(c)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return &benchSelf{cc: cc, p: p, buf: make([]byte, 4096)}
}

func median(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return float64(d[len(d)/2])
}
