//go:build linux

package integration

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkCLIGet runs `keychain-auth get` as a whole process against a
// running daemon (file vault), the way a shell script does. When a Secret
// Service is available (scripts/with-secret-service.sh), `secret-tool
// lookup` of an item in gnome-keyring runs in the same loop as the
// yardstick, and the ratio is reported. Figures: docs/performance.md.
func BenchmarkCLIGet(b *testing.B) {
	e := newEnv(b)
	e.start()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	// The CLI is a courier: the daemon authorizes it as its parent, this
	// benchmark binary.
	e.mustKA("authorize", self, "bench")
	setter := writeScript(b, e.projectDir(), "set.sh", "#!/bin/sh\nkeychain-auth put bench db\n")
	e.mustKA("authorize", setter, "bench")
	if r := e.run("bench-value", setter); r.code != 0 {
		b.Fatalf("put: %+v", r)
	}
	yardstick := secretToolYardstick(b)
	var measured, yard []time.Duration
	for b.Loop() {
		if yardstick != nil {
			t0 := time.Now()
			yardstick()
			yard = append(yard, time.Since(t0))
		}
		t0 := time.Now()
		out, err := exec.Command(bin.keychainAuth, "get", "--socket", e.socket, "bench", "db").Output()
		measured = append(measured, time.Since(t0))
		if err != nil || string(out) != "bench-value" {
			b.Fatalf("get: %v %q", err, out)
		}
	}
	b.ReportMetric(float64(median(measured).Nanoseconds()), "median-ns/op")
	if yardstick == nil {
		b.Log("no Secret Service here (run under scripts/with-secret-service.sh): no secret-tool yardstick")
		return
	}
	b.ReportMetric(float64(median(yard).Nanoseconds()), "secret-tool-median-ns/op")
	b.ReportMetric(float64(median(measured))/float64(median(yard)), "x-secret-tool")
}

// secretToolYardstick stores an item with secret-tool and returns a func
// that looks it up, or nil when there is no Secret Service to ask.
func secretToolYardstick(b *testing.B) func() {
	if os.Getenv("KEYCHAIN_AUTH_TEST_SECRET_SERVICE") != "1" {
		return nil
	}
	tool, err := exec.LookPath("secret-tool")
	if err != nil {
		b.Logf("secret-tool not installed (libsecret-tools): %v", err)
		return nil
	}
	store := exec.Command(tool, "store", "--label=keychain-auth bench", "service", "kca-bench", "key", "db")
	store.Stdin = strings.NewReader("bench-value")
	if out, err := store.CombinedOutput(); err != nil {
		b.Fatalf("secret-tool store: %v %s", err, out)
	}
	return func() {
		out, err := exec.Command(tool, "lookup", "service", "kca-bench", "key", "db").Output()
		if err != nil || strings.TrimSpace(string(out)) != "bench-value" {
			b.Fatalf("secret-tool lookup: %v %q", err, out)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
