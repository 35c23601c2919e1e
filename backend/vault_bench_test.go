package backend_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

// bigVault returns a key-file vault with n keys in service "big", written in
// one batch: "k/00000" ... with 100 keys under each "k/000" prefix.
func bigVault(tb testing.TB, n int) *backend.Vault {
	tb.Helper()
	v, err := backend.OpenVault(tb.TempDir(), backend.VaultOptions{})
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

func BenchmarkVaultSetInto10k(b *testing.B) {
	v := bigVault(b, 10000)
	for b.Loop() {
		if err := v.Set("big", []backend.Item{{Key: "k/new", Value: secret.New("x")}}); err != nil {
			b.Fatal(err)
		}
	}
}
