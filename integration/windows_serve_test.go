//go:build windows

// The Windows end-to-end tests: the real Windows build of `keychain-auth
// serve` on a named pipe, driven by the real CLI and by a compiled client
// (testdata/winclient). They run under Wine in .ci/run
// (scripts/wine-test.sh, which builds the binaries: there is no Go
// toolchain inside Wine) and natively in .github/workflows/ci.yml.
package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// winBin holds the binaries under test.
var winBin struct{ keychainAuth, client string }

// TestMain takes the binaries from $KEYCHAIN_AUTH_WIN_BIN (a directory
// holding keychain-auth.exe and winclient.exe) or, natively, builds them.
func TestMain(m *testing.M) {
	dir := os.Getenv("KEYCHAIN_AUTH_WIN_BIN")
	built := dir == ""
	if built {
		var err error
		if dir, err = os.MkdirTemp("", "kca-bin-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for out, pkg := range map[string]string{"keychain-auth.exe": "..", "winclient.exe": "./testdata/winclient"} {
			cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-o", filepath.Join(dir, out), pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v: %s\n", pkg, err, b)
				os.Exit(1)
			}
		}
	}
	// The long, final form of the directory (a %TEMP% under
	// C:\Users\RUNNER~1 has a short name in it): register stores the
	// resolved path, and the daemon sees the path the program was started by.
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	winBin.keychainAuth = filepath.Join(abs, "keychain-auth.exe")
	winBin.client = filepath.Join(abs, "winclient.exe")
	code := m.Run()
	if built {
		removeTree(dir)
	}
	os.Exit(code)
}

// underWine reports whether this binary runs under Wine.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// removeTree removes dir depth first: os.RemoveAll (and so t.TempDir's
// cleanup) fails under Wine 8 with Go 1.25+.
func removeTree(dir string) {
	var paths []string
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		paths = append(paths, p)
		return nil
	})
	slices.Reverse(paths)
	for _, p := range paths {
		os.Remove(p)
	}
}

// winEnv is one isolated user of a daemon: its own policy and data
// directories and its own pipe name.
type winEnv struct {
	t    *testing.T
	dir  string
	pipe string
	vars []string
}

func newWinEnv(t *testing.T) *winEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "kca-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(dir) })
	pipe := fmt.Sprintf(`\\.\pipe\keychain-auth-e2e-%d-%d`, os.Getpid(), time.Now().UnixNano())
	return &winEnv{t: t, dir: dir, pipe: pipe, vars: []string{
		"KEYCHAIN_AUTH_CONFIG_DIR=" + filepath.Join(dir, "config"),
		"KEYCHAIN_AUTH_DATA_DIR=" + filepath.Join(dir, "data"),
		"KEYCHAIN_AUTH_SOCKET=" + pipe,
		"KEYCHAIN_AUTH_BACKEND=file",
	}}
}

type winResult struct {
	code           int
	stdout, stderr string
}

// runTimeout bounds one client command (a serve that should have refused
// to start would otherwise hang the test).
const runTimeout = time.Minute

// run runs a program in the environment, with stdin, and waits for it.
func (e *winEnv) run(stdin, prog string, args ...string) winResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd, err := startRetry(e.t, func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.Env = append(os.Environ(), e.vars...)
		cmd.Stdin = strings.NewReader(stdin)
		out.Reset()
		errb.Reset()
		cmd.Stdout, cmd.Stderr = &out, &errb
		return cmd
	})
	if err != nil {
		e.t.Fatalf("start %s %v: %v", prog, args, err)
	}
	err = cmd.Wait()
	r := winResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		e.t.Fatalf("run %s %v: %v", prog, args, err)
	}
	return r
}

// startRetry starts the command mk makes. Under Wine, CreateProcess now and
// then fails with ERROR_INTERNAL_ERROR ("Internal error.", seen in the CI
// lane for a freshly written image); that one error is retried, a few
// times, each retry logged, with a new command each time. Any other error,
// and the last one, is returned.
func startRetry(t testing.TB, mk func() *exec.Cmd) (*exec.Cmd, error) {
	t.Helper()
	var err error
	for attempt := 1; attempt <= 4; attempt++ {
		cmd := mk()
		if err = cmd.Start(); err == nil {
			return cmd, nil
		}
		if !errors.Is(err, windows.ERROR_INTERNAL_ERROR) {
			return nil, err
		}
		t.Logf("start %s, attempt %d: %v (retrying)", cmd.Path, attempt, err)
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	return nil, err
}

func (e *winEnv) ka(stdin string, args ...string) winResult {
	return e.run(stdin, winBin.keychainAuth, args...)
}

// serve starts the daemon and waits until `status` answers. It is stopped
// (killed: there is no console signal to send it here) when the test ends.
func (e *winEnv) serve() *bytes.Buffer {
	e.t.Helper()
	var logs bytes.Buffer
	cmd, err := startRetry(e.t, func() *exec.Cmd {
		cmd := exec.Command(winBin.keychainAuth, "serve")
		cmd.Env = append(os.Environ(), e.vars...)
		logs.Reset()
		cmd.Stdout, cmd.Stderr = &logs, &logs
		return cmd
	})
	if err != nil {
		e.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	e.t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-exited:
			e.t.Fatalf("serve exited at start: %s", logs.String())
		default:
		}
		if r := e.ka("", "status"); r.code == 0 {
			return &logs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("serve did not answer status in 30s: %s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestWindowsServeEndToEnd: no daemon is exit 6; the CLI's item requests
// are refused courier_unverifiable and queue nothing; an unregistered
// program is refused (exit 5) and queued with its path and hash; once
// registered and granted it writes and reads; outside its grant it is
// denied; the value appears in no log, audit line or queue.
func TestWindowsServeEndToEnd(t *testing.T) {
	e := newWinEnv(t)
	const value = "winE2Emarker-7f3a1c"
	if r := e.ka("", "get", "svc", "token"); r.code != 6 || !strings.Contains(r.stderr, "keychain-auth serve") {
		t.Fatalf("get without a daemon: exit %d stderr %q; want 6 and how to start it", r.code, r.stderr)
	}
	logs := e.serve()

	r := e.ka("", "get", "svc", "token")
	if r.code != 3 || !strings.Contains(r.stderr, "courier_unverifiable") {
		t.Errorf("CLI get: exit %d stderr %q; want 3, courier_unverifiable", r.code, r.stderr)
	}

	r = e.run(value, winBin.client, "write", "svc", "token")
	if r.code != 5 || !strings.Contains(r.stderr, "unregistered_binary_pending_approval") {
		t.Fatalf("unregistered write: exit %d stderr %q; want 5, unregistered_binary_pending_approval", r.code, r.stderr)
	}
	hash := fileHash(t, winBin.client)
	pending := e.ka("", "list-pending")
	if !strings.Contains(pending.stdout, hash) || !strings.Contains(pending.stdout, "winclient.exe") {
		t.Errorf("list-pending after the refusal:\n%s\nwant winclient.exe with %s", pending.stdout, hash)
	}
	self := fileHash(t, winBin.keychainAuth)
	if strings.Contains(pending.stdout, self) {
		t.Errorf("the CLI itself was queued for approval:\n%s", pending.stdout)
	}

	if r := e.ka("", "register", winBin.client); r.code != 0 {
		t.Fatalf("register: exit %d stderr %q", r.code, r.stderr)
	}
	if r := e.ka("", "grant", winBin.client, "--read", "svc", "--write", "svc"); r.code != 0 {
		t.Fatalf("grant: exit %d stderr %q", r.code, r.stderr)
	}
	if r := e.run(value, winBin.client, "write", "svc", "token"); r.code != 0 {
		t.Fatalf("granted write: exit %d stderr %q", r.code, r.stderr)
	}
	if r := e.run("", winBin.client, "read", "svc", "token"); r.code != 0 || r.stdout != value {
		t.Fatalf("granted read: exit %d stdout %q stderr %q; want the value", r.code, r.stdout, r.stderr)
	}
	if r := e.run("", winBin.client, "read", "other", "token"); r.code != 3 || !strings.Contains(r.stderr, "service_not_allowed") {
		t.Errorf("read outside the grant: exit %d stderr %q; want 3, service_not_allowed", r.code, r.stderr)
	}
	noValueIn(t, value, map[string]string{"daemon log": logs.String()},
		filepath.Join(e.dir, "data", "audit.log"), filepath.Join(e.dir, "config", "pending.json"))
}

// noValueIn fails when value appears in any of the texts or files.
func noValueIn(t *testing.T, value string, texts map[string]string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Errorf("read %s: %v", f, err)
		}
		texts[f] = string(b)
	}
	for what, s := range texts {
		if strings.Contains(s, value) {
			t.Errorf("the secret value appears in the %s", what)
		}
	}
}

// TestWindowsServeRefusesTakenPipe: a process that created the pipe name
// first makes serve refuse to start and say so (FILE_FLAG_FIRST_PIPE_INSTANCE),
// instead of sharing the name with it. Wine does not enforce that flag:
// this runs in the native Windows workflow only. transport's
// TestWindowsFirstInstance holds the canary (without the flag the same
// listen succeeds).
func TestWindowsServeRefusesTakenPipe(t *testing.T) {
	if underWine() {
		t.Skip("Wine does not enforce FILE_FLAG_FIRST_PIPE_INSTANCE: runs in the native Windows workflow only")
	}
	e := newWinEnv(t)
	name, err := windows.UTF16PtrFromString(e.pipe)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateNamedPipe(name, windows.PIPE_ACCESS_DUPLEX, windows.PIPE_TYPE_BYTE, windows.PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nil)
	if err != nil {
		t.Fatalf("squatter: %v", err)
	}
	defer windows.CloseHandle(h)
	r := e.ka("", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, "already in use") {
		t.Fatalf("serve on a squatted pipe: exit %d stderr %q; want 1 and that the pipe is in use", r.code, r.stderr)
	}
}
