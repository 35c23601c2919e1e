package backend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

// bigVault returns a key-file vault with n keys in service "big", written in
// one batch: "k/00000" ... with 100 keys under each "k/000" prefix.
func bigVault(tb testing.TB, n int) *backend.Vault {
	tb.Helper()
	return bigVaultIn(tb, tb.TempDir(), n)
}

func bigVaultIn(tb testing.TB, dir string, n int) *backend.Vault {
	tb.Helper()
	v, err := backend.OpenVault(dir, backend.VaultOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	items := make([]backend.Item, n)
	for i := range items {
		k := fmt.Sprintf("k/%05d", i)
		items[i] = backend.Item{Key: k, Value: secret.New("value-" + k)}
	}
	if err := v.Set("big", items); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	return v
}

func TestVaultListTenThousandIsFast(t *testing.T) {
	v := bigVault(t, 10000)
	start := time.Now()
	all, err := v.List("big", "", true)
	full := time.Since(start)
	if err != nil || len(all) != 10000 {
		t.Fatalf("List all: %d items, err %v", len(all), err)
	}
	start = time.Now()
	some, err := v.List("big", "k/012", false)
	prefix := time.Since(start)
	if err != nil || len(some) != 100 || some[0].Key != "k/01200" || some[99].Key != "k/01299" {
		t.Fatalf("List prefix: %d items, err %v", len(some), err)
	}
	t.Logf("List of 10,000 with values: %v; prefix List of 100 out of 10,000: %v", full, prefix)
	if full > 50*time.Millisecond || prefix > 50*time.Millisecond {
		t.Errorf("List too slow: all %v, prefix %v; want well under 50ms", full, prefix)
	}
}

func BenchmarkVaultListPrefix10k(b *testing.B) {
	v := bigVault(b, 10000)
	for b.Loop() {
		if items, err := v.List("big", "k/05", true); err != nil || len(items) != 1000 {
			b.Fatalf("%d items, err %v", len(items), err)
		}
	}
}

func BenchmarkVaultListAll10k(b *testing.B) {
	v := bigVault(b, 10000)
	for b.Loop() {
		if items, err := v.List("big", "", false); err != nil || len(items) != 10000 {
			b.Fatalf("%d items, err %v", len(items), err)
		}
	}
}

// BenchmarkVaultSetOne writes one new key into the middle of a vault of
// n keys (so the sorted key index shifts), alternating in the same loop
// with the yardstick: a one-key write into a vault that is otherwise empty.
// It reports the median of each, their ratio, and the slowest write into
// the big vault seen in the run. The compaction that now and then turns a
// write into a whole new snapshot is measured by BenchmarkVaultCompaction;
// in a run shorter than the journal bound (about snapshot/2 bytes, 13,000
// such writes at 100,000 keys) no write into the big vault compacts.
func BenchmarkVaultSetOne(b *testing.B) {
	for _, n := range []int{0, 1000, 10000, 100000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			big, empty := bigVault(b, n), bigVault(b, 0)
			var inBig, inEmpty []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				if err := big.Set("big", []backend.Item{{Key: fmt.Sprintf("k/%05d/%d", n/2, i), Value: secret.New("x")}}); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := empty.Set("big", []backend.Item{{Key: "k/new", Value: secret.New("x")}}); err != nil {
					b.Fatal(err)
				}
				inBig, inEmpty = append(inBig, mid.Sub(start)), append(inEmpty, time.Since(mid))
				i++
			}
			mb, me := median(inBig), median(inEmpty)
			b.ReportMetric(float64(mb.Nanoseconds()), "median-ns/op")
			b.ReportMetric(float64(me.Nanoseconds()), "empty-median-ns/op")
			b.ReportMetric(float64(mb)/float64(me), "ratio")
			b.ReportMetric(float64(slices.Max(inBig).Nanoseconds()), "max-ns/op")
		})
	}
}

// BenchmarkVaultCompaction is the worst single write: one that compacts
// the journal, rewriting the whole vault of n keys as a new snapshot (what
// every write cost before the journal). It comes once per journal bound's
// worth of appends.
func BenchmarkVaultCompaction(b *testing.B) {
	for _, n := range []int{0, 1000, 10000, 100000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			v := bigVault(b, n)
			b.Cleanup(backend.VaultCompactionForTest(0, 63))
			var d []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				if err := v.Set("big", []backend.Item{{Key: fmt.Sprintf("k/%05d/%d", n/2, i), Value: secret.New("x")}}); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
				i++
			}
			b.ReportMetric(float64(median(d).Nanoseconds()), "median-ns/op")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkVaultOpen opens a vault of 100,000 keys whose journal is empty,
// and one whose journal holds as many one-key writes as fit under the
// compaction bound (half the snapshot): the slowest open the journal can
// cause. The journal is filled without fsync, to keep the set-up short.
func BenchmarkVaultOpen(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("keys=100000/fulljournal=%v", full), func(b *testing.B) {
			dir := b.TempDir()
			v := bigVaultIn(b, dir, 100000)
			records := 0
			if full {
				st, err := os.Stat(filepath.Join(dir, backend.VaultFileName))
				if err != nil {
					b.Fatal(err)
				}
				bound := st.Size() / 2
				defer backend.SkipJournalSyncForTest()()
				for last := int64(0); ; records++ {
					at := v.JournalBytesForTest()
					if at+(at-last) > bound {
						break
					}
					if err := v.Set("big", []backend.Item{{Key: fmt.Sprintf("k/%05d/%d", records%100000, records), Value: secret.New("x")}}); err != nil {
						b.Fatal(err)
					}
					if v.JournalBytesForTest() <= at {
						b.Fatal("a write compacted before the journal reached half the snapshot")
					}
					last = at
				}
			}
			v.Close()
			var d []time.Duration
			for b.Loop() {
				start := time.Now()
				o, err := backend.OpenVault(dir, backend.VaultOptions{})
				if err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
				o.Close()
			}
			b.ReportMetric(float64(median(d).Nanoseconds()), "median-ns/op")
			b.ReportMetric(float64(records), "journal-records")
		})
	}
}
