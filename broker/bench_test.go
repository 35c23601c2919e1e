//go:build linux

package broker

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
	"github.com/keychain-auth/keychain-auth/transport"
)

// The benchmarks here measure the daemon as clients meet it: a real unix
// socket, the real verifier and the real file vault. Each reports medians
// per operation and a ratio against a yardstick measured in the same loop,
// so that a busy machine shifts both alike. Figures: docs/performance.md.

// served starts the server on a unix socket in a temp dir with the vault.
func served(b *testing.B) (*fixture, string) {
	b.Helper()
	f := newFixture(b, Limits{})
	vault, err := backend.OpenVault(b.TempDir(), backend.VaultOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vault.Close() })
	f.srv.opt.Store = vault
	f.store = vault
	path := filepath.Join(b.TempDir(), "s", "agent.sock")
	ln, err := transport.Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := auth.PrepareListener(ln.Unix()); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.srv.Serve(ctx, ln.Unix()); close(done) }()
	b.Cleanup(func() { cancel(); <-done; ln.Close() })
	return f, path
}

// steady waits until the policy file written by allow is older than the
// window in which config.Source re-reads a file on every call (coarse file
// system clocks), so that what is measured is the steady state.
func steady() {
	time.Sleep(2100 * time.Millisecond)
}

// echoServer answers every line with a fixed response line: the bare cost
// of a round trip over a unix socket, the yardstick for the daemon's.
func echoServer(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "echo.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadSlice('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte(`{"type":"RESPONSE","status":"success","results":[{"target":"db","value":"v"}]}` + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return path
}

type lineConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialLine(b *testing.B, path string) *lineConn {
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	return &lineConn{c: c, r: bufio.NewReader(c)}
}

func (l *lineConn) roundTrip(b *testing.B, req []byte) string {
	if _, err := l.c.Write(req); err != nil {
		b.Fatal(err)
	}
	line, err := l.r.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return line
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// report prints medians and the ratio of the measured to the yardstick.
func report(b *testing.B, measured, yardstick []time.Duration) {
	m := median(measured)
	b.ReportMetric(float64(m.Nanoseconds()), "median-ns/op")
	if len(yardstick) > 0 {
		y := median(yardstick)
		b.ReportMetric(float64(y.Nanoseconds()), "yardstick-median-ns/op")
		b.ReportMetric(float64(m)/float64(y), "x-yardstick")
	}
}

const readReq = `{"type":"REQUEST","action":"read","service":"app","targets":["db"]}` + "\n"

// BenchmarkExactRead is an exact read's round trip on a kept connection,
// against a bare echo round trip over a unix socket in the same loop.
func BenchmarkExactRead(b *testing.B) {
	f, path := served(b)
	f.allow([]string{"app"}, []string{"app"}, false)
	steady()
	if err := f.store.Set("app", []backend.Item{{Key: "db", Value: secret.New("v")}}); err != nil {
		b.Fatal(err)
	}
	readAgainstEcho(b, path)
}

// readAgainstEcho measures exact reads of app/db (value "v") on one kept
// connection to the daemon at path, alternating in the same loop with a
// round trip to a bare echo server, and reports both medians and the ratio.
func readAgainstEcho(b *testing.B, path string) {
	kc, echo := dialLine(b, path), dialLine(b, echoServer(b))
	if got := kc.roundTrip(b, []byte(readReq)); !strings.Contains(got, `"value":"v"`) {
		b.Fatalf("read: %s", got)
	}
	var measured, yard []time.Duration
	for b.Loop() {
		t0 := time.Now()
		echo.roundTrip(b, []byte(readReq))
		t1 := time.Now()
		kc.roundTrip(b, []byte(readReq))
		yard, measured = append(yard, t1.Sub(t0)), append(measured, time.Since(t1))
	}
	report(b, measured, yard)
}

// BenchmarkConnectAndRead is a new connection, its identification (with
// the image hash cached) and one exact read, against a new connection and
// one round trip to the echo server.
func BenchmarkConnectAndRead(b *testing.B) {
	f, path := served(b)
	f.allow([]string{"app"}, nil, false)
	steady()
	echoPath := echoServer(b)
	var measured, yard []time.Duration
	for b.Loop() {
		t0 := time.Now()
		e := dialLine(b, echoPath)
		e.roundTrip(b, []byte(readReq))
		e.c.Close()
		t1 := time.Now()
		k := dialLine(b, path)
		if got := k.roundTrip(b, []byte(readReq)); !strings.Contains(got, "success") {
			b.Fatalf("read: %s", got)
		}
		k.c.Close()
		yard, measured = append(yard, t1.Sub(t0)), append(measured, time.Since(t1))
	}
	report(b, measured, yard)
}

// BenchmarkPrefixRead10k reads 10,000 keys with their values in one
// prefix request on a kept connection (the target: under 50 ms).
func BenchmarkPrefixRead10k(b *testing.B) {
	f, path := served(b)
	f.allow([]string{"app"}, nil, true)
	steady()
	items := make([]backend.Item, 10000)
	for i := range items {
		items[i] = backend.Item{Key: fmt.Sprintf("k/%05d", i), Value: secret.New(fmt.Sprintf("value-%05d", i))}
	}
	if err := f.store.Set("app", items); err != nil {
		b.Fatal(err)
	}
	req := []byte(`{"type":"REQUEST","action":"read","service":"app","match":"prefix","targets":["k/"]}` + "\n")
	c := dialLine(b, path)
	var measured []time.Duration
	for b.Loop() {
		t0 := time.Now()
		got := c.roundTrip(b, req)
		measured = append(measured, time.Since(t0))
		if n := strings.Count(got, `"target"`); n != 10000 {
			b.Fatalf("prefix read returned %d results", n)
		}
	}
	report(b, measured, nil)
}

// BenchmarkConcurrentReads is the throughput of exact reads from 1, 2, 4,
// 8 and 16 clients at once, each on a kept connection of its own, as
// requests per second and as a multiple of one client's throughput
// measured in the same run. The clients are goroutines of this process and
// share the machine's cores with the daemon, as local clients do. Each
// round runs every client count once, in turn, for a fixed number of
// requests in all; the figures are medians over the rounds, so that drift
// in the machine's load reaches every count alike.
func BenchmarkConcurrentReads(b *testing.B) {
	path := servedForReads(b)
	counts := []int{1, 2, 4, 8, 16}
	conns := make([]*lineConn, counts[len(counts)-1])
	for i := range conns {
		conns[i] = dialLine(b, path)
		if got := conns[i].roundTrip(b, []byte(readReq)); !strings.Contains(got, `"value":"v"`) {
			b.Fatalf("read: %s", got)
		}
	}
	const perRound = 3200 // requests per client count per round, split among the clients
	rates := make(map[int][]float64)
	for b.Loop() {
		for _, n := range counts {
			errs := make(chan error, n)
			t0 := time.Now()
			for i := 0; i < n; i++ {
				go func(c *lineConn) {
					for j := 0; j < perRound/n; j++ {
						if _, err := c.c.Write([]byte(readReq)); err != nil {
							errs <- err
							return
						}
						line, err := c.r.ReadString('\n')
						if err != nil || !strings.Contains(line, `"value":"v"`) {
							errs <- fmt.Errorf("read: %q, %v", line, err)
							return
						}
					}
					errs <- nil
				}(conns[i])
			}
			for i := 0; i < n; i++ {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			rates[n] = append(rates[n], float64(perRound/n*n)/time.Since(t0).Seconds())
		}
	}
	reportCurve(b, "", counts, rates)
}

// servedForReads serves a daemon whose caller may read service app, which
// holds db = "v", in the steady state; it returns the socket's path.
func servedForReads(b *testing.B) string {
	b.Helper()
	f, path := served(b)
	f.allow([]string{"app"}, nil, false)
	steady()
	if err := f.store.Set("app", []backend.Item{{Key: "db", Value: secret.New("v")}}); err != nil {
		b.Fatal(err)
	}
	return path
}

// reportCurve reports, for each client count, the median requests per
// second over the rounds and its multiple of one client's.
// prefix names the curve ("" for the daemon's).
func reportCurve(b *testing.B, prefix string, counts []int, rates map[int][]float64) {
	one := medianFloat(rates[1])
	for _, n := range counts {
		r := medianFloat(rates[n])
		b.ReportMetric(r, fmt.Sprintf("%sreq/s-%02d-clients", prefix, n))
		if n > 1 {
			b.ReportMetric(r/one, fmt.Sprintf("%sx-one-client-%02d", prefix, n))
		}
	}
}

func medianFloat(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkExactReadItems is BenchmarkExactRead with 1,000, 10,000 and
// 100,000 other keys in the service: how an exact read's cost grows with
// the store.
func BenchmarkExactReadItems(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			f, path := served(b)
			f.allow([]string{"app"}, nil, false)
			items := make([]backend.Item, n, n+1)
			for i := range items {
				items[i] = backend.Item{Key: fmt.Sprintf("k/%06d", i), Value: secret.New("x")}
			}
			items = append(items, backend.Item{Key: "db", Value: secret.New("v")})
			if err := f.store.Set("app", items); err != nil {
				b.Fatal(err)
			}
			steady()
			readAgainstEcho(b, path)
		})
	}
}
