package backend

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

// flakyOps is a map store whose putOne and deleteOne fail on chosen calls,
// to drive the rollback paths of setBatch and deleteBatch.
type flakyOps struct {
	items    map[string]Item
	calls    int
	failAt   map[int]bool // 1-based write call numbers that fail
	failWith error
}

var errInjected = errors.New("injected failure")

func newFlaky(failAt ...int) *flakyOps {
	f := &flakyOps{items: map[string]Item{}, failAt: map[int]bool{}, failWith: errInjected}
	for _, n := range failAt {
		f.failAt[n] = true
	}
	return f
}

func (f *flakyOps) getOne(_, key string) (Item, error) {
	it, ok := f.items[key]
	if !ok {
		return Item{}, ErrNotFound
	}
	return it, nil
}

func (f *flakyOps) write() error {
	f.calls++
	if f.failAt[f.calls] {
		return f.failWith
	}
	return nil
}

func (f *flakyOps) putOne(_ string, it Item) error {
	if err := f.write(); err != nil {
		// Leave a torn item behind, as a chunked store might.
		f.items[it.Key] = Item{Key: it.Key, Value: secret.New("torn")}
		return err
	}
	f.items[it.Key] = it
	return nil
}

func (f *flakyOps) deleteOne(_, key string) error {
	if err := f.write(); err != nil {
		return err
	}
	delete(f.items, key)
	return nil
}

func item(k, v string) Item { return Item{Key: k, Value: secret.New(v)} }

func values(f *flakyOps) map[string]string {
	out := map[string]string{}
	for k, it := range f.items {
		out[k] = it.Value.Reveal()
	}
	return out
}

func TestSetBatchRollsBack(t *testing.T) {
	f := newFlaky(3) // the third write (key c) fails
	f.items["a"] = item("a", "old-a")
	f.items["c"] = item("c", "old-c")
	before := values(f)

	err := setBatch(f, "svc", []Item{item("a", "new-a"), item("b", "new-b"), item("c", "new-c"), item("d", "new-d")})
	if !errors.Is(err, errInjected) {
		t.Fatalf("setBatch error = %v, want the injected failure", err)
	}
	if got := values(f); !maps.Equal(got, before) {
		t.Fatalf("after rollback store = %v, want %v", got, before)
	}
}

func TestSetBatchDuplicateKeyRestoresOriginal(t *testing.T) {
	f := newFlaky(3)
	f.items["a"] = item("a", "orig")
	err := setBatch(f, "svc", []Item{item("a", "one"), item("a", "two"), item("b", "x")})
	if err == nil {
		t.Fatal("setBatch succeeded, want failure")
	}
	if got := values(f); !maps.Equal(got, map[string]string{"a": "orig"}) {
		t.Fatalf("store = %v, want only the original a", got)
	}
}

func TestSetBatchRollbackFailureIsReported(t *testing.T) {
	f := newFlaky(2, 3) // the write and the first restore fail
	f.items["a"] = item("a", "old")
	err := setBatch(f, "svc", []Item{item("a", "new"), item("b", "new")})
	if err == nil || !errors.Is(err, errInjected) {
		t.Fatalf("error = %v, want injected", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "rollback incomplete") {
		t.Fatalf("error %q does not say the rollback was incomplete", msg)
	}
}

func TestSetBatchSuccess(t *testing.T) {
	f := newFlaky()
	if err := setBatch(f, "svc", []Item{item("a", "1"), item("b", "2")}); err != nil {
		t.Fatal(err)
	}
	if got, want := values(f), map[string]string{"a": "1", "b": "2"}; !maps.Equal(got, want) {
		t.Fatalf("store = %v, want %v", got, want)
	}
}

func TestDeleteBatchRollsBack(t *testing.T) {
	f := newFlaky(2)
	f.items["a"] = item("a", "va")
	f.items["b"] = item("b", "vb")
	f.items["c"] = item("c", "vc")
	before := values(f)
	err := deleteBatch(f, "svc", []string{"a", "missing", "b", "c"})
	if !errors.Is(err, errInjected) {
		t.Fatalf("deleteBatch error = %v, want injected", err)
	}
	if got := values(f); !maps.Equal(got, before) {
		t.Fatalf("after rollback store = %v, want %v", got, before)
	}
}

func TestDeleteBatchMissingIsNotError(t *testing.T) {
	f := newFlaky()
	f.items["a"] = item("a", "va")
	if err := deleteBatch(f, "svc", []string{"nope", "a"}); err != nil {
		t.Fatal(err)
	}
	if len(f.items) != 0 {
		t.Fatalf("store = %v, want empty", values(f))
	}
}

func TestSnapshotReadErrorStopsBeforeWriting(t *testing.T) {
	f := &readFails{flakyOps: newFlaky()}
	err := setBatch(f, "svc", []Item{item("a", "1")})
	if err == nil {
		t.Fatal("setBatch succeeded although the snapshot read failed")
	}
	if f.calls != 0 {
		t.Fatalf("%d writes happened after a failed snapshot, want 0", f.calls)
	}
}

type readFails struct{ *flakyOps }

func (readFails) getOne(string, string) (Item, error) { return Item{}, ErrLocked }
