// Package storetest is the conformance suite every backend.Store passes:
// the file vault, the native stores and the in-memory test double run the
// same subtests, so the broker can treat them alike.
//
// It checks behaviour through the Store interface only. It does not test
// durability, encryption or locking; the vault's own tests do that. Failure
// messages name keys and services but never print a secret value: values are
// compared and reported by length and position of the first difference.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

// Harness tells the suite how to reach the store under test.
type Harness struct {
	// Open returns a store to test. It is called once per subtest; the
	// suite deletes the items it wrote and closes the store when the
	// subtest ends. Stores that share state across Open calls (a real
	// keyring) are fine: every subtest uses its own random service names.
	Open func(t *testing.T) backend.Store
	// PlantForeign, when set, puts an item that belongs to another
	// application into the same underlying store, under what that other
	// application calls service and key, and removes it when t ends. The
	// suite then checks that the item never shows through the Store.
	PlantForeign func(t *testing.T, service, key string)
	// MaxValue, when above zero, is the largest value in bytes the store
	// accepts (Windows Credential Manager: 2,560). The large-value test
	// then uses that size instead of 64 KiB.
	MaxValue int
}

// largeValue is the size the large-value test writes by default.
const largeValue = 64 << 10

// Run runs every conformance subtest against the store h.Open returns.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"MissingKey", testMissingKey},
		{"ListSorted", testListSorted},
		{"ListPrefix", testListPrefix},
		{"ListValues", testListValues},
		{"ServicesIsolated", testServicesIsolated},
		{"Names", testNames},
		{"EmptyValue", testEmptyValue},
		{"LargeValue", testLargeValue},
		{"Attributes", testAttributes},
		{"Batch", testBatch},
		{"EmptyBatch", testEmptyBatch},
		{"Concurrent", testConcurrent},
		{"Info", testInfo},
		{"Foreign", testForeign},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newFixture(t, h))
		})
	}
}

// fixture is one subtest's store plus the services it touched, so that
// cleanup can remove exactly what the subtest wrote.
type fixture struct {
	h     Harness
	s     backend.Store
	tag   string
	mu    sync.Mutex
	touch map[string]bool
}

func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	s := h.Open(t)
	if s == nil {
		t.Fatal("Harness.Open returned nil")
	}
	f := &fixture{h: h, s: s, tag: randomHex(4), touch: map[string]bool{}}
	t.Cleanup(func() { f.cleanup(t) })
	return f
}

// svc returns a service name unique to this subtest run, so subtests and
// repeated runs against a shared keyring never see each other's items.
func (f *fixture) svc(name string) string {
	s := "storetest-" + f.tag + "-" + name
	f.mu.Lock()
	f.touch[s] = true
	f.mu.Unlock()
	return s
}

func (f *fixture) cleanup(t *testing.T) {
	for _, service := range slices.Sorted(maps.Keys(f.touch)) {
		items, err := f.s.List(service, "", false)
		if err != nil {
			t.Errorf("cleanup: list %q: %v", service, err)
			continue
		}
		if len(items) == 0 {
			continue
		}
		if err := f.s.Delete(service, keysOf(items)); err != nil {
			t.Errorf("cleanup: delete in %q: %v", service, err)
		}
	}
	if err := f.s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("storetest: random: %v", err))
	}
	return hex.EncodeToString(b)
}

// value returns a fresh secret that no other subtest writes.
func value(label string) secret.Value {
	return secret.New("storetest-secret-" + label + "-" + randomHex(8))
}

func keysOf(items []backend.Item) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	return keys
}

// describeDiff says how two values differ without showing either.
func describeDiff(got, want secret.Value) string {
	g, w := got.Reveal(), want.Reveal()
	if g == w {
		return ""
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	return fmt.Sprintf("got %d bytes, want %d bytes, first difference at byte %d", len(g), len(w), i)
}

func checkValue(t *testing.T, what string, got, want secret.Value) {
	t.Helper()
	if d := describeDiff(got, want); d != "" {
		t.Errorf("%s: value differs: %s", what, d)
	}
}

func mustSet(t *testing.T, s backend.Store, service string, items ...backend.Item) {
	t.Helper()
	if err := s.Set(service, items); err != nil {
		t.Fatalf("Set(%q, %d items): %v", service, len(items), err)
	}
}

func mustGet(t *testing.T, s backend.Store, service, key string) backend.Item {
	t.Helper()
	it, err := s.Get(service, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", service, key, err)
	}
	if it.Key != key {
		t.Errorf("Get(%q, %q).Key = %q", service, key, it.Key)
	}
	return it
}

func mustList(t *testing.T, s backend.Store, service, prefix string, withValues bool) []backend.Item {
	t.Helper()
	items, err := s.List(service, prefix, withValues)
	if err != nil {
		t.Fatalf("List(%q, %q, %v): %v", service, prefix, withValues, err)
	}
	return items
}

func wantNotFound(t *testing.T, s backend.Store, service, key string) {
	t.Helper()
	_, err := s.Get(service, key)
	if !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get(%q, %q) error = %v, want ErrNotFound", service, key, err)
	}
}

func wantKeys(t *testing.T, what string, items []backend.Item, want ...string) {
	t.Helper()
	got := keysOf(items)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: keys = %q, want %q", what, got, want)
	}
}

func item(key string, v secret.Value) backend.Item { return backend.Item{Key: key, Value: v} }

func testSetGet(t *testing.T, f *fixture) {
	svc := f.svc("setget")
	v := value("setget")
	mustSet(t, f.s, svc, item("token", v))
	checkValue(t, "Get token", mustGet(t, f.s, svc, "token").Value, v)
}

func testOverwrite(t *testing.T, f *fixture) {
	svc := f.svc("overwrite")
	v1, v2 := value("old"), value("new-and-longer")
	mustSet(t, f.s, svc, item("token", v1))
	mustSet(t, f.s, svc, item("token", v2))
	checkValue(t, "Get after overwrite", mustGet(t, f.s, svc, "token").Value, v2)
	wantKeys(t, "List after overwrite", mustList(t, f.s, svc, "", false), "token")
}

func testDelete(t *testing.T, f *fixture) {
	svc := f.svc("delete")
	v := value("keep")
	mustSet(t, f.s, svc, item("gone", value("gone")), item("kept", v))
	if err := f.s.Delete(svc, []string{"gone"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, f.s, svc, "gone")
	checkValue(t, "Get kept", mustGet(t, f.s, svc, "kept").Value, v)
	wantKeys(t, "List after delete", mustList(t, f.s, svc, "", false), "kept")
}

func testDeleteMissing(t *testing.T, f *fixture) {
	svc := f.svc("delmissing")
	if err := f.s.Delete(svc, []string{"never-existed"}); err != nil {
		t.Errorf("Delete of a missing key in an unknown service: %v, want nil", err)
	}
	mustSet(t, f.s, svc, item("present", value("p")))
	if err := f.s.Delete(svc, []string{"never-existed", "present"}); err != nil {
		t.Errorf("Delete of a missing and a present key: %v, want nil", err)
	}
	wantNotFound(t, f.s, svc, "present")
	if err := f.s.Delete(svc, []string{"present"}); err != nil {
		t.Errorf("second Delete of the same key: %v, want nil", err)
	}
}

func testMissingKey(t *testing.T, f *fixture) {
	svc := f.svc("missing")
	wantNotFound(t, f.s, svc, "nope")
	mustSet(t, f.s, svc, item("other", value("o")))
	wantNotFound(t, f.s, svc, "nope")
	wantNotFound(t, f.s, svc, "othe")
	wantNotFound(t, f.s, svc, "other2")
	wantKeys(t, "List of a service with no items", mustList(t, f.s, f.svc("empty"), "", true))
}

func testListSorted(t *testing.T, f *fixture) {
	svc := f.svc("sorted")
	for _, k := range []string{"m", "b", "z", "a", "ab", "B", "aa"} {
		mustSet(t, f.s, svc, item(k, value(k)))
	}
	wantKeys(t, "List", mustList(t, f.s, svc, "", false), "B", "a", "aa", "ab", "b", "m", "z")
}

func testListPrefix(t *testing.T, f *fixture) {
	svc := f.svc("prefix")
	mustSet(t, f.s, svc,
		item("db/prod/user", value("1")), item("db/prod/pass", value("2")),
		item("db/dev/pass", value("3")), item("db", value("4")),
		item("api", value("5")), item("DB/prod/x", value("6")))
	cases := []struct {
		prefix string
		want   []string
	}{
		{"db/prod/", []string{"db/prod/pass", "db/prod/user"}},
		{"db", []string{"db", "db/dev/pass", "db/prod/pass", "db/prod/user"}},
		{"db/prod/pass", []string{"db/prod/pass"}},
		{"nothing", nil},
		{"", []string{"DB/prod/x", "api", "db", "db/dev/pass", "db/prod/pass", "db/prod/user"}},
	}
	for _, c := range cases {
		wantKeys(t, fmt.Sprintf("List prefix %q", c.prefix), mustList(t, f.s, svc, c.prefix, false), c.want...)
	}
}

func testListValues(t *testing.T, f *fixture) {
	svc := f.svc("values")
	want := map[string]secret.Value{"k1": value("k1"), "k2": value("k2")}
	attrs := map[string]string{"label": "listed"}
	mustSet(t, f.s, svc,
		backend.Item{Key: "k1", Value: want["k1"], Attributes: attrs},
		backend.Item{Key: "k2", Value: want["k2"]})
	for _, it := range mustList(t, f.s, svc, "", false) {
		if it.Value.Len() != 0 {
			t.Errorf("List without values: item %q carries a %d-byte value", it.Key, it.Value.Len())
		}
	}
	items := mustList(t, f.s, svc, "", true)
	wantKeys(t, "List with values", items, "k1", "k2")
	for _, it := range items {
		checkValue(t, "List with values, item "+it.Key, it.Value, want[it.Key])
	}
	if len(items) == 2 && !maps.Equal(items[0].Attributes, attrs) {
		t.Errorf("List with values: k1 attributes = %v, want %v", items[0].Attributes, attrs)
	}
}

func testServicesIsolated(t *testing.T, f *fixture) {
	a, b, ab := f.svc("iso"), f.svc("iso2"), f.svc("iso:x")
	va, vb := value("a"), value("b")
	mustSet(t, f.s, a, item("shared", va), item("x:only-a", value("ax")))
	mustSet(t, f.s, b, item("shared", vb))
	mustSet(t, f.s, ab, item("only-ab", value("ab")))
	checkValue(t, "Get in "+a, mustGet(t, f.s, a, "shared").Value, va)
	checkValue(t, "Get in "+b, mustGet(t, f.s, b, "shared").Value, vb)
	wantKeys(t, "List "+a, mustList(t, f.s, a, "", false), "shared", "x:only-a")
	wantKeys(t, "List "+ab, mustList(t, f.s, ab, "", false), "only-ab")
	// A store that joins service and key with ':' would confuse these two.
	wantNotFound(t, f.s, a, "x:only-ab")
	wantNotFound(t, f.s, ab, "only-a")
	if err := f.s.Delete(a, []string{"shared"}); err != nil {
		t.Fatalf("Delete in %q: %v", a, err)
	}
	checkValue(t, "Get in "+b+" after delete in "+a, mustGet(t, f.s, b, "shared").Value, vb)
}

func testNames(t *testing.T, f *fixture) {
	names := []string{"a:b", "a/b/c", "/leading", "trailing/", "with space", " padded ",
		"ünïcødé-鍵-🔑", "x::y//z", "dot.name", `back\slash`, "quote\"d", "tab\tname"}
	for _, svcName := range []string{"plain", "svc:with/odd chars ü"} {
		svc := f.svc(svcName)
		want := map[string]secret.Value{}
		for _, n := range names {
			want[n] = value("name")
			mustSet(t, f.s, svc, item(n, want[n]))
		}
		for _, n := range names {
			checkValue(t, fmt.Sprintf("Get(%q, %q)", svc, n), mustGet(t, f.s, svc, n).Value, want[n])
		}
		wantKeys(t, "List "+svc, mustList(t, f.s, svc, "", false), slices.Sorted(maps.Keys(want))...)
		wantKeys(t, "List prefix a", mustList(t, f.s, svc, "a", false), "a/b/c", "a:b")
	}
}

func testEmptyValue(t *testing.T, f *fixture) {
	svc := f.svc("emptyvalue")
	mustSet(t, f.s, svc, item("empty", secret.New("")))
	checkValue(t, "Get empty", mustGet(t, f.s, svc, "empty").Value, secret.New(""))
	wantKeys(t, "List", mustList(t, f.s, svc, "", true), "empty")
}

func testLargeValue(t *testing.T, f *fixture) {
	svc := f.svc("large")
	n := largeValue
	if f.h.MaxValue > 0 {
		n = f.h.MaxValue
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	// Every byte value, including NUL and invalid UTF-8, must survive.
	for i := range 256 {
		b[i] = byte(i)
	}
	v := secret.New(string(b))
	mustSet(t, f.s, svc, item("big", v))
	checkValue(t, "Get big", mustGet(t, f.s, svc, "big").Value, v)
}

func testAttributes(t *testing.T, f *fixture) {
	svc := f.svc("attrs")
	attrs := map[string]string{"url": "https://example.test/a:b", "user": "ünï", "empty": ""}
	mustSet(t, f.s, svc,
		backend.Item{Key: "with", Value: value("w"), Attributes: maps.Clone(attrs)},
		backend.Item{Key: "without", Value: value("wo")})
	if got := mustGet(t, f.s, svc, "with").Attributes; !maps.Equal(got, attrs) {
		t.Errorf("attributes = %v, want %v", got, attrs)
	}
	if got := mustGet(t, f.s, svc, "without").Attributes; len(got) != 0 {
		t.Errorf("attributes of an item set without any = %v, want none", got)
	}
	// Overwriting replaces attributes rather than merging them.
	mustSet(t, f.s, svc, backend.Item{Key: "with", Value: value("w2"), Attributes: map[string]string{"only": "this"}})
	if got := mustGet(t, f.s, svc, "with").Attributes; !maps.Equal(got, map[string]string{"only": "this"}) {
		t.Errorf("attributes after overwrite = %v, want only=this", got)
	}
}

func testBatch(t *testing.T, f *fixture) {
	svc := f.svc("batch")
	want := map[string]secret.Value{}
	var items []backend.Item
	for i := range 6 {
		k := fmt.Sprintf("item-%d", i)
		want[k] = value(k)
		items = append(items, item(k, want[k]))
	}
	mustSet(t, f.s, svc, items...)
	got := mustList(t, f.s, svc, "item-", true)
	wantKeys(t, "List after batch Set", got, slices.Sorted(maps.Keys(want))...)
	for _, it := range got {
		checkValue(t, "batch item "+it.Key, it.Value, want[it.Key])
	}
	if err := f.s.Delete(svc, []string{"item-0", "item-2", "item-4"}); err != nil {
		t.Fatalf("batch Delete: %v", err)
	}
	wantKeys(t, "List after batch Delete", mustList(t, f.s, svc, "", false), "item-1", "item-3", "item-5")
}

func testEmptyBatch(t *testing.T, f *fixture) {
	svc := f.svc("emptybatch")
	if err := f.s.Set(svc, nil); err != nil {
		t.Errorf("Set of no items: %v", err)
	}
	if err := f.s.Delete(svc, nil); err != nil {
		t.Errorf("Delete of no keys: %v", err)
	}
}

func testConcurrent(t *testing.T, f *fixture) {
	const workers, rounds = 4, 8
	svc := f.svc("concurrent")
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if err := concurrentRound(f.s, svc, fmt.Sprintf("w%d-r%d", w, r), r%2 == 1); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if items := mustList(t, f.s, svc, "", false); len(items) != workers*rounds/2 {
		t.Errorf("after concurrent use: %d items, want %d", len(items), workers*rounds/2)
	}
}

// concurrentRound writes, reads, lists and (when del is set) deletes one key
// of its own, reporting any inconsistency it sees.
func concurrentRound(s backend.Store, svc, key string, del bool) error {
	v := value(key)
	if err := s.Set(svc, []backend.Item{item(key, v)}); err != nil {
		return fmt.Errorf("concurrent Set %q: %w", key, err)
	}
	it, err := s.Get(svc, key)
	if err != nil {
		return fmt.Errorf("concurrent Get %q: %w", key, err)
	}
	if d := describeDiff(it.Value, v); d != "" {
		return fmt.Errorf("concurrent Get %q: value differs: %s", key, d)
	}
	items, err := s.List(svc, key, false)
	if err != nil || len(items) != 1 {
		return fmt.Errorf("concurrent List %q: %d items, err %v", key, len(items), err)
	}
	if del {
		if err := s.Delete(svc, []string{key}); err != nil {
			return fmt.Errorf("concurrent Delete %q: %w", key, err)
		}
	}
	return nil
}

func testInfo(t *testing.T, f *fixture) {
	info := f.s.Info()
	if info.Name == "" {
		t.Error("Info().Name is empty")
	}
	if info.AtRest == "" {
		t.Error("Info().AtRest is empty")
	}
}

func testForeign(t *testing.T, f *fixture) {
	if f.h.PlantForeign == nil {
		t.Skip("harness has no PlantForeign: this store has no other applications' items")
	}
	svc := f.svc("foreign")
	f.h.PlantForeign(t, svc, "planted")
	mustSet(t, f.s, svc, item("ours", value("ours")))
	wantKeys(t, "List with a foreign item present", mustList(t, f.s, svc, "", false), "ours")
	wantKeys(t, "List with values with a foreign item present", mustList(t, f.s, svc, "", true), "ours")
	wantKeys(t, "List prefix with a foreign item present", mustList(t, f.s, svc, "plant", false))
	wantNotFound(t, f.s, svc, "planted")
}
