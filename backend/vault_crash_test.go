package backend_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

const crashDirEnv = "KEYCHAIN_AUTH_TEST_VAULT_CRASH_DIR"

// crashValue is what the child writes for key, so the parent can check
// values as well as presence.
func crashValue(key string) string { return "value-of-" + key + strings.Repeat("#", len(key)) }

// TestVaultCrashChild is the child process of TestVaultCrash: it writes
// items until it is killed, printing each key once its Set has returned.
// In compacting runs the journal is compacted into a new snapshot every few
// dozen writes, so that kills land in compactions as well as in appends.
func TestVaultCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestVaultCrash; runs only when that test starts it")
	}
	if os.Getenv(crashDirEnv+"_COMPACT") != "" {
		backend.VaultCompactionForTest(2048, 1)
	}
	v, err := backend.OpenVault(dir, backend.VaultOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	run := os.Getenv(crashDirEnv + "_RUN")
	for i := 0; ; i++ {
		// Alternate single writes and batches of three.
		n := 1 + 2*(i%2)
		items := make([]backend.Item, n)
		for j := range items {
			k := fmt.Sprintf("run%s-%05d-%d", run, i, j)
			items[j] = backend.Item{Key: k, Value: secret.New(crashValue(k))}
		}
		if err := v.Set("crash", items); err != nil {
			fmt.Fprintln(os.Stderr, "child set:", err)
			os.Exit(4)
		}
		for _, it := range items {
			fmt.Fprintln(os.Stdout, it.Key)
		}
	}
}

func TestVaultCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary 35 times; skipped with -short")
	}
	dir := t.TempDir()
	acked, torn := map[string]bool{}, map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	kills, compacted := 0, 0
	for run := 0; run < 35 && time.Now().Before(deadline); run++ {
		snap, _ := os.Stat(filepath.Join(dir, backend.VaultFileName))
		for _, k := range runCrashChild(t, dir, run, time.Duration(20+rand.IntN(130))*time.Millisecond) {
			acked[k] = true
		}
		kills++
		if now, err := os.Stat(filepath.Join(dir, backend.VaultFileName)); err == nil && snap != nil && !os.SameFile(now, snap) {
			compacted++
		}
		// A kill rarely lands inside the write(2) of an append, so every
		// third run also leaves what such a kill (or a power loss before
		// the fsync) leaves: a strict prefix of a real next record.
		if run%3 == 0 {
			if k := fmt.Sprintf("torn%03d-00000-0", run); appendTornRecord(t, dir, k) {
				torn[k] = true
			}
		}
		checkCrashVault(t, dir, acked, torn)
		if t.Failed() {
			return
		}
	}
	if kills < 30 {
		t.Errorf("only %d kills in the time budget, want 30+", kills)
	}
	if len(acked) == 0 {
		t.Fatal("no child ever acknowledged a write: the test proved nothing")
	}
	if compacted == 0 {
		t.Error("no run ever wrote a new snapshot: kills never met a compaction")
	}
	if len(torn) == 0 {
		t.Error("no torn record was ever appended: the torn-tail check proved nothing")
	}
	t.Logf("%d kills, %d acknowledged keys, all present; %d runs compacted; %d torn records, none read", kills, len(acked), compacted, len(torn))
}

// runCrashChild starts the child, SIGKILLs it after delay and returns the
// keys it acknowledged.
func runCrashChild(t *testing.T, dir string, run int, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestVaultCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s_RUN=%03d", crashDirEnv, run))
	if run%2 == 1 {
		cmd.Env = append(cmd.Env, crashDirEnv+"_COMPACT=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan []string)
	go func() {
		var keys []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			// A line cut by the kill has no newline and so was not acknowledged
			// in full; Scanner still returns it, so keep only well-formed keys.
			if strings.HasPrefix(sc.Text(), "run") && strings.Count(sc.Text(), "-") == 2 && len(sc.Text()) == len("run000-00000-0") {
				keys = append(keys, sc.Text())
			}
		}
		lines <- keys
	}()
	time.Sleep(delay)
	_ = cmd.Process.Kill() // SIGKILL on unix, TerminateProcess on Windows
	keys := <-lines
	_ = cmd.Wait()
	if strings.Contains(stderr.String(), "child ") {
		t.Fatalf("child failed: %s", stderr.String())
	}
	return keys
}

// appendTornRecord appends a strict prefix of the record a write of key
// would append, when the vault has a journal, and reports whether it did.
func appendTornRecord(t *testing.T, dir, key string) bool {
	t.Helper()
	if _, err := os.Stat(journalPath(dir)); err != nil {
		return false
	}
	rec, ok := tryNextRecord(t, dir, key)
	if !ok {
		return false
	}
	f, err := os.OpenFile(journalPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(rec[:1+rand.IntN(len(rec)-1)]); err != nil {
		t.Fatal(err)
	}
	return true
}

func checkCrashVault(t *testing.T, dir string, acked, torn map[string]bool) {
	t.Helper()
	v, err := backend.OpenVault(dir, backend.VaultOptions{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer v.Close()
	for k := range torn {
		if _, err := v.Get("svc", k); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("torn record %s was read as data (err %v)", k, err)
		}
	}
	for k := range acked {
		it, err := v.Get("crash", k)
		if err != nil {
			t.Errorf("acknowledged key %s lost: %v", k, err)
			continue
		}
		if it.Value.Reveal() != crashValue(k) {
			t.Errorf("acknowledged key %s: value differs", k)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("stale temp file %s survived a reopen", filepath.Join(dir, e.Name()))
		}
	}
}
