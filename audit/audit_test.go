package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/secret"
)

func sample(i int) Record {
	return Record{
		Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Second),
		PID:  1000 + i, UID: 1000,
		Path: "/home/u/bin/deploy.sh", Hash: "sha256:" + strings.Repeat("ab", 32),
		Script:  "/usr/bin/bash",
		Service: "deploy", Action: "read", Match: "exact", Targets: []string{fmt.Sprintf("key-%03d", i)},
		Status: "success", Courier: &Party{PID: 7, Path: "/usr/local/bin/keychain-auth", Hash: "sha256:" + strings.Repeat("cd", 32)},
		Assurance: AssuranceFull, RelaxedEnv: []string{"LD_PRELOAD"},
	}
}

func openLog(t *testing.T, opts Options) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func TestLinesParseBack(t *testing.T) {
	l, path := openLog(t, Options{})
	var want []Record
	for i := range 5 {
		r := sample(i)
		if i == 3 {
			// A key name that tries to start a second line.
			r.Targets = []string{"k\n{\"status\":\"success\"}"}
			r.Courier, r.Script, r.RelaxedEnv = nil, "", nil
		}
		want = append(want, r)
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(data, []byte("\n")); got != 5 {
		t.Fatalf("file has %d lines, want 5", got)
	}
	got, err := Tail(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Tail =\n%+v\nwant\n%+v", got, want)
	}
	got, err = Tail(path, 2)
	if err != nil || len(got) != 2 || got[0].PID != want[3].PID || got[1].PID != want[4].PID {
		t.Fatalf("Tail(2) = %+v, %v; want the last two, oldest first", got, err)
	}
}

func TestSnakeCaseNames(t *testing.T) {
	line, err := json.Marshal(sample(1))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "pid", "uid", "path", "hash", "script", "service", "action", "match", "targets", "status", "courier", "assurance", "relaxed_env"} {
		if _, ok := m[k]; !ok {
			t.Errorf("line %s lacks %q", line, k)
		}
	}
	if c, _ := m["courier"].(map[string]any); c["pid"] == nil || c["path"] == nil || c["hash"] == nil {
		t.Errorf("courier = %v, want pid, path, hash", m["courier"])
	}
}

// TestRecordCannotHoldAValue holds Record to plain types: a field of type
// secret.Value, interface, map, func or chan would be a place a value could
// end up in the log. The checker is first shown to catch such types.
func TestRecordCannotHoldAValue(t *testing.T) {
	type leaky struct {
		Name  string
		Inner *struct{ V []secret.Value }
		Attrs map[string]string
		Any   any
	}
	if got := unsafeFields("leaky", reflect.TypeFor[leaky]()); len(got) != 3 {
		t.Fatalf("checker found %q in a leaky type, want 3 problems", got)
	}
	if got := unsafeFields("Record", reflect.TypeFor[Record]()); len(got) != 0 {
		t.Fatalf("Record has fields that could carry a value: %q", got)
	}
}

func unsafeFields(path string, typ reflect.Type) []string {
	switch {
	case typ == reflect.TypeFor[secret.Value]():
		return []string{path + " is a secret.Value"}
	case typ == reflect.TypeFor[time.Time]():
		return nil
	case typ.Kind() == reflect.Pointer, typ.Kind() == reflect.Slice:
		return unsafeFields(path+"[]", typ.Elem())
	case typ.Kind() == reflect.Struct:
		var out []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			out = append(out, unsafeFields(path+"."+f.Name, f.Type)...)
		}
		return out
	case typ.Kind() == reflect.String, typ.Kind() == reflect.Int, typ.Kind() == reflect.Uint32:
		return nil
	}
	return []string{path + " has kind " + typ.Kind().String()}
}

func TestRotationAtBound(t *testing.T) {
	line, _ := json.Marshal(sample(0))
	lineLen := int64(len(line) + 1)
	const perFile = 3
	l, path := openLog(t, Options{MaxBytes: perFile * lineLen, Keep: 2})
	for i := range perFile {
		if err := l.Write(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Fatalf("rotated before the bound: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != perFile*lineLen {
		t.Fatalf("size %d, want exactly the bound %d", fi.Size(), perFile*lineLen)
	}
	// Fill four files' worth in total; only the live file and two rotated remain.
	for i := perFile; i < 4*perFile; i++ {
		if err := l.Write(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > perFile*lineLen {
			t.Errorf("%s is %d bytes, over the bound", name, fi.Size())
		}
		recs, err := readFile(name)
		if err != nil {
			t.Fatal(err)
		}
		wantFirst := 1000 + (3-i)*perFile
		if len(recs) != perFile || recs[0].PID != wantFirst {
			t.Errorf("%s: %d records starting at pid %d, want %d from %d", name, len(recs), recs[0].PID, perFile, wantFirst)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("audit.log.3 exists with Keep 2: %v", err)
	}
	recs, err := Tail(path, 100)
	if err != nil || len(recs) != 3*perFile || recs[0].PID != 1000+perFile || recs[len(recs)-1].PID != 1000+4*perFile-1 {
		t.Fatalf("Tail across files: %d records, %v", len(recs), err)
	}
}

func TestModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{MaxBytes: 200, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 5 { // forces rotations
		if err := l.Write(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{path, path + ".1"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", name, fi.Mode().Perm())
		}
	}
}

// TestConcurrentWriters: eight writers at once, with rotations among them
// (a bound of 16 KiB, about thirty lines a file): no line lost, torn or
// written twice; no file over the bound; each writer's lines in the order
// it wrote them; and each Write returns only once its line is in the file.
func TestConcurrentWriters(t *testing.T) {
	const bound = 16 << 10
	l, path := openLog(t, Options{MaxBytes: bound, Keep: 1000})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := sample(i)
				r.PID = w*each + i
				if err := l.Write(r); err != nil {
					t.Error(err)
					return
				}
				if w == 0 && i%20 == 0 { // written by the time Write returns
					recs, err := Tail(path, 1000)
					if err != nil || !slices.ContainsFunc(recs, func(x Record) bool { return x.PID == r.PID }) {
						t.Errorf("pid %d not in the log when Write returned (%v)", r.PID, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	recs, err := Tail(path, writers*each+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != writers*each {
		t.Fatalf("%d records, want %d", len(recs), writers*each)
	}
	seen := make(map[int]bool)
	last := make([]int, writers)
	for i := range last {
		last[i] = -1
	}
	for _, r := range recs {
		seen[r.PID] = true
		w, i := r.PID/each, r.PID%each
		if i <= last[w] {
			t.Fatalf("writer %d: line %d after line %d", w, i, last[w])
		}
		last[w] = i
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct records, want %d (lines lost or torn)", len(seen), writers*each)
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) < 10 {
		t.Fatalf("%d files: the bound should have rotated the log many times", len(files))
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > bound {
			t.Errorf("%s: %v bytes over the bound %d (%v)", f, fi.Size(), bound, err)
		}
	}
}

func TestTailTornAndBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	good, _ := json.Marshal(sample(1))
	torn := append(append(good, '\n'), good[:10]...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := Tail(path, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("torn tail: %d records, %v; want 1 and no error", len(recs), err)
	}
	bad := append(append(good[:10:10], '\n'), append(good, '\n')...)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Tail(path, 10); err == nil || !strings.Contains(err.Error(), "audit.log:1") {
		t.Fatalf("bad line: err = %v, want one naming audit.log:1", err)
	}
	if recs, err := Tail(filepath.Join(t.TempDir(), "none.log"), 5); err != nil || len(recs) != 0 {
		t.Fatalf("missing log: %v, %v", recs, err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	l, _ := openLog(t, Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(sample(1)); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestFailedRotationStillWrites: when the rename of a rotation fails, the
// error is returned, the line is written anyway and later writes work.
func TestFailedRotationStillWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path, Options{MaxBytes: 200, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A non-empty directory where the rotated file must go.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		_ = l.Write(Record{Service: "svc", Action: "read", Targets: []string{strings.Repeat("k", 40)}, Status: "success"})
	}
	if err := l.Write(Record{Service: "last", Status: "success"}); err == nil {
		t.Error("a write that needed a failed rotation returned no error")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 6 || !strings.Contains(string(b), `"service":"last"`) {
		t.Errorf("audit.log has %d lines after failed rotations, want all 6:\n%s", n, b)
	}
}
