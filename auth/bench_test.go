//go:build linux

package auth

import (
	"net"
	"testing"
)

// benchPeer is a connected client kept alive for the benchmark.
func benchPeer(b *testing.B, w Weakening) *Peer {
	v, err := NewVerifier(WithWeakening(Options{}, w))
	if err != nil {
		b.Fatal(err)
	}
	l, sock := listen(b, "")
	startClient(b, sock, client{})
	c, err := l.AcceptUnix()
	if err != nil {
		b.Fatal(err)
	}
	p, err := v.Accept(c)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	var buf [64]byte
	if _, err := p.Read(buf[:]); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkIdentify is the per-request cost with a warm hash cache.
func BenchmarkIdentify(b *testing.B) {
	p := benchPeer(b, Weakening{})
	benchIdentify(b, p)
}

// BenchmarkIdentifyUnchecked is the same with every switchable check off
// (no pidfd liveness, filesystem, path, namespace or script checks): the
// naive daemon's cost, for comparison.
func BenchmarkIdentifyUnchecked(b *testing.B) {
	p := benchPeer(b, Weakening{NoPidfd: true, NoFilesystemCheck: true, NoImageChecks: true,
		NoNamespaceCheck: true, NoScriptFileCheck: true, NoSenderCheck: true})
	benchIdentify(b, p)
}

func benchIdentify(b *testing.B, p *Peer) {
	if _, err := p.Identify(); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Identify(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadAllocFree: the per-chunk sender check does not allocate.
func TestReadAllocFree(t *testing.T) {
	v := newVerifier(t, Options{})
	l, sock := listen(t, "")
	cc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatal(err)
	}
	buf, msg := make([]byte, 16), []byte("x")
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := cc.Write(msg); err != nil {
			t.Fatal(err)
		}
		if n, err := p.Read(buf[:]); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per write+Read, want 0", allocs)
	}
}

func BenchmarkRead(b *testing.B) {
	v, _ := NewVerifier(Options{})
	l, sock := listen(b, "")
	cc, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	c, _ := l.AcceptUnix()
	p, err := v.Accept(c)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	msg, buf := []byte("{\"type\":\"REQUEST\"}\n"), make([]byte, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cc.Write(msg)
		if _, err := p.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
