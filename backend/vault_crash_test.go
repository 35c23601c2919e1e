package backend_test

import (
	"bufio"
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
func TestVaultCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestVaultCrash; runs only when that test starts it")
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
	acked := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	kills := 0
	for run := 0; run < 35 && time.Now().Before(deadline); run++ {
		for _, k := range runCrashChild(t, dir, run, time.Duration(5+rand.IntN(45))*time.Millisecond) {
			acked[k] = true
		}
		kills++
		checkCrashVault(t, dir, acked)
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
	t.Logf("%d kills, %d acknowledged keys, all present", kills, len(acked))
}

// runCrashChild starts the child, SIGKILLs it after delay and returns the
// keys it acknowledged.
func runCrashChild(t *testing.T, dir string, run int, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestVaultCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s_RUN=%03d", crashDirEnv, run))
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

func checkCrashVault(t *testing.T, dir string, acked map[string]bool) {
	t.Helper()
	v, err := backend.OpenVault(dir, backend.VaultOptions{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer v.Close()
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
