package config

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
)

// Environment of a helper process started by TestWritersInSeparateProcesses.
const (
	helperEnv   = "CONFIG_TEST_HELPER" // "writer" makes the test binary a helper
	helperDir   = "CONFIG_TEST_DIR"
	helperID    = "CONFIG_TEST_ID"
	helperCount = 40
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "writer" {
		id, _ := strconv.Atoi(os.Getenv(helperID))
		if err := hammer(os.Getenv(helperDir), id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hammer makes helperCount changes to each file: one granted service per
// Update, one new hash per Add. Every one must survive.
func hammer(dir string, id int) error {
	p := &Pending{Path: filepath.Join(dir, PendingFile), Max: 10000}
	for i := range helperCount {
		err := Update(filepath.Join(dir, ConfigFile), func(c *Config) error {
			_, e := c.Find(fx("/usr/bin/shared"))
			if e == nil {
				return fmt.Errorf("entry missing")
			}
			e.GrantRead(fmt.Sprintf("p%d-%d", id, i))
			return nil
		})
		if err != nil {
			return fmt.Errorf("writer %d update %d: %w", id, i, err)
		}
		if err := p.Add(PendingRecord{Path: fx("/usr/bin/x"), Hash: numberedHash(id, i)}); err != nil {
			return fmt.Errorf("writer %d add %d: %w", id, i, err)
		}
	}
	return nil
}

// TestWritersInSeparateProcesses runs three copies of this test binary and
// two goroutines of this process against one config.json and one
// pending.json, while a reader checks that both files are valid JSON at
// every moment. No update may be lost.
func TestWritersInSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot re-execute the test binary: %v", err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, ConfigFile)
	if err := Update(cfgPath, func(c *Config) error {
		c.RegisteredBinaries = append(c.RegisteredBinaries, NewEntry(fx("/usr/bin/shared"), testHash('a'), timeZero))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const procs, goroutines = 3, 2
	var done atomic.Bool
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	var reads atomic.Int64
	go func() {
		defer readerWG.Done()
		for !done.Load() {
			checkValidJSON(t, cfgPath, filepath.Join(dir, PendingFile))
			reads.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for id := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=writer", helperDir+"="+dir, helperID+"="+strconv.Itoa(id))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("writer process %d: %v\n%s", id, err, out)
			}
		}()
	}
	for id := procs; id < procs+goroutines; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hammer(dir, id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readerWG.Wait()

	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	want := (procs + goroutines) * helperCount
	if got := len(cfg.RegisteredBinaries[0].AllowedReadServices); got != want {
		t.Errorf("config has %d granted services, want %d: updates were lost", got, want)
	}
	recs, err := (&Pending{Path: filepath.Join(dir, PendingFile), Max: 10000}).List()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != want {
		t.Errorf("pending has %d records, want %d: updates were lost", len(recs), want)
	}
	t.Logf("%d consistent reads during the run", reads.Load())
}

func checkValidJSON(t *testing.T, paths ...string) {
	for _, p := range paths {
		data, err := atomicfile.ReadFile(p) // as the daemon reads (Windows: waits out a replace)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			continue
		}
		if !json.Valid(data) {
			t.Errorf("%s is not valid JSON mid-run:\n%s", p, data)
		}
	}
}

var timeZero = time.Unix(0, 0)
