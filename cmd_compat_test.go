package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/config"
)

// kaRun runs the CLI in-process and returns its exit code and output.
func kaRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"keychain-auth"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// compatSetup gives the test its own policy directory and a program file.
func compatSetup(t *testing.T) (cfgDir, tool string) {
	t.Helper()
	dir := t.TempDir()
	cfgDir = filepath.Join(dir, "config")
	t.Setenv("KEYCHAIN_AUTH_CONFIG_DIR", cfgDir)
	tool = filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(tool, toolFixture("echo one\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return cfgDir, tool
}

// Installers run `register` again on every reinstall: the same path with
// the same hash succeeds and leaves the file as it was.
func TestRegisterAgainSameHash(t *testing.T) {
	cfgDir, tool := compatSetup(t)
	if code, _, errs := kaRun(t, "register", tool); code != exitOK {
		t.Fatalf("register: exit %d, %s", code, errs)
	}
	cfgFile := filepath.Join(cfgDir, config.ConfigFile)
	before, _ := os.ReadFile(cfgFile)
	st, _ := os.Stat(cfgFile)
	time.Sleep(10 * time.Millisecond)
	code, out, errs := kaRun(t, "register", tool)
	if code != exitOK || !strings.HasPrefix(out, "Registered "+tool+" with hash sha256:") || !strings.Contains(errs, "nothing changed") {
		t.Fatalf("register again: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	after, _ := os.ReadFile(cfgFile)
	st2, _ := os.Stat(cfgFile)
	if !bytes.Equal(before, after) || !st.ModTime().Equal(st2.ModTime()) {
		t.Errorf("register of a registered program rewrote the policy:\n%s\n%s", before, after)
	}
	// With another hash it is still refused, with the upgrade hint.
	if err := os.WriteFile(tool, toolFixture("echo two\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs = kaRun(t, "register", tool)
	if code != exitError || !strings.Contains(errs, "keychain-auth upgrade") {
		t.Errorf("register with another hash: exit %d, stderr %q", code, errs)
	}
}

// `authorize` records the path's current hash: a client that re-authorizes
// itself after its own upgrade is served again.
func TestAuthorizeRecordsCurrentHash(t *testing.T) {
	_, tool := compatSetup(t)
	code, out, errs := kaRun(t, "authorize", tool, "svc")
	if code != exitOK || !strings.Contains(out, "Registered "+tool+" with hash sha256:") || !strings.Contains(out, "Authorized "+tool+" for service svc") {
		t.Fatalf("authorize: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	kaRun(t, "grant", tool, "--read", "other")
	if err := os.WriteFile(tool, toolFixture("echo two\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := kaRun(t, "check", tool, "svc"); code != exitUnregistered {
		t.Fatalf("check after the file changed: exit %d, want 5", code)
	}
	img, err := hashProgram(tool)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = kaRun(t, "authorize", tool, "svc")
	if code != exitOK || !strings.Contains(out, "Upgraded "+tool+" to new hash "+img.Hash) {
		t.Fatalf("authorize after an upgrade: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "warning:") || !strings.Contains(errs, "read: svc, other") {
		t.Errorf("authorize did not warn that the entry's other permissions carry over: %q", errs)
	}
	if code, _, errs := kaRun(t, "check", tool, "svc"); code != exitOK {
		t.Errorf("check after re-authorize: exit %d, %s", code, errs)
	}
}

// `check PATH SERVICE` means read, write and search, as the original meant;
// the flags ask for less.
func TestCheckMeansReadWriteSearch(t *testing.T) {
	_, tool := compatSetup(t)
	kaRun(t, "register", tool)
	kaRun(t, "grant", tool, "--read", "svc")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{tool}, exitOK},
		{[]string{tool, "svc"}, exitDenied},
		{[]string{tool, "svc", "--read"}, exitOK},
		{[]string{tool, "svc", "--write"}, exitDenied},
		{[]string{tool, "svc", "--read", "--search"}, exitDenied},
		{[]string{tool, "--search"}, exitDenied},
		{[]string{tool, "--read"}, exitUsage},
	} {
		if code, _, errs := kaRun(t, append([]string{"check"}, tc.args...)...); code != tc.want {
			t.Errorf("check %v: exit %d, want %d (%s)", tc.args[1:], code, tc.want, errs)
		}
	}
	kaRun(t, "grant", tool, "--write", "svc")
	if code, _, errs := kaRun(t, "check", tool, "svc"); code != exitDenied || !strings.Contains(errs, `may not read, write and search on "svc"`) {
		t.Errorf("read+write without search: exit %d, %q", code, errs)
	}
	kaRun(t, "grant", tool, "--search")
	for _, args := range [][]string{{tool, "svc"}, {tool, "--search"}, {tool, "svc", "--write"}} {
		if code, _, errs := kaRun(t, append([]string{"check"}, args...)...); code != exitOK {
			t.Errorf("check %v with everything granted: exit %d (%s)", args[1:], code, errs)
		}
	}
	if code, _, _ := kaRun(t, "check", "/bin/sh", "svc"); code != exitUnregistered {
		t.Errorf("check of an unregistered program: exit %d, want 5", code)
	}
}

// list-pending reads the original's pending.json and prints the original's
// text exactly.
func TestListPendingOriginalText(t *testing.T) {
	cfgDir, _ := compatSetup(t)
	if code, out, _ := kaRun(t, "list-pending"); code != exitOK || out != "No pending binaries waiting for authorization.\n" {
		t.Fatalf("empty queue: exit %d, %q", code, out)
	}
	now := time.Now()
	stamp := now.Add(-time.Hour).Format(time.RFC3339Nano)
	hash := "sha256:" + strings.Repeat("ab", 32)
	file := `[
  {
    "path": "/usr/local/bin/agentsecrets",
    "hash": "` + hash + `",
    "command_line": [
      "/usr/local/bin/agentsecrets",
      "get",
      "api_key"
    ],
    "timestamp": "` + stamp + `"
  }
]`
	if err := config.EnsureDir(cfgDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, config.PendingFile), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	ts, _ := time.Parse(time.RFC3339Nano, stamp)
	want := "Found 1 pending binaries waiting for authorization:\n\n" +
		"Path:       /usr/local/bin/agentsecrets\n" +
		"Hash:       " + hash + "\n" +
		"Command:    /usr/local/bin/agentsecrets get api_key\n" +
		"Attempted:  " + ts.Local().Format(time.RFC3339) + "\n" +
		strings.Repeat("-", 60) + "\n"
	code, out, errs := kaRun(t, "list-pending")
	if code != exitOK || out != want {
		t.Fatalf("list-pending: exit %d, stderr %q\n got %q\nwant %q", code, errs, out, want)
	}
	code, out, _ = kaRun(t, "list-pending", "--json")
	if code != exitOK || !strings.Contains(out, `"command_line": [`) {
		t.Errorf("list-pending --json: exit %d, %s", code, out)
	}
}
