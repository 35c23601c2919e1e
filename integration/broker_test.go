//go:build linux

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// marker is a secret value that must never appear on disk or in a log.
const marker = "kca-canary-Zq81-value"

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

type pendingRecord struct {
	Path        string   `json:"path"`
	Hash        string   `json:"hash"`
	CommandLine []string `json:"command_line"`
	Timestamp   string   `json:"timestamp"`
}

func (e *env) pending() []pendingRecord {
	e.t.Helper()
	var recs []pendingRecord
	out := e.mustKA("list-pending", "--json")
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		e.t.Fatalf("list-pending --json: %v: %s", err, out)
	}
	return recs
}

// projectDir makes a directory for scripts, writable only by us.
func (e *env) projectDir() string {
	e.t.Helper()
	dir := filepath.Join(e.home, "proj")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

const deployScript = `#!/bin/sh
# Stores the value it is given on stdin, then reads it back the way a
# deployment script would.
cd /
keychain-auth put myapp db || exit $?
PASS=$(keychain-auth get myapp db) || exit $?
echo "got:$PASS"
`

func TestRegisteredScriptPutsAndGets(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	script := writeScript(t, dir, "deploy.sh", deployScript)
	out := e.runIn(dir, "", bin.keychainAuth, "register", "./deploy.sh")
	wantReg := "Registered " + script + " with hash " + sha256File(t, script)
	if out.code != 0 || strings.TrimSpace(out.stdout) != wantReg {
		t.Fatalf("register: exit %d, stdout %q, want %q (stderr %s)", out.code, out.stdout, wantReg, out.stderr)
	}
	e.mustKA("grant", script, "--read", "myapp", "--write", "myapp")

	r := e.runIn(dir, marker+"\n", "./deploy.sh")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "got:"+marker {
		t.Fatalf("deploy.sh: exit %d, stdout %q, stderr %q\ndaemon: %s", r.code, r.stdout, r.stderr, e.daemonLog())
	}
	// The audit line names the script and records the CLI as courier.
	audit := e.mustKA("audit", "--json", "-n", "5")
	if !strings.Contains(audit, `"path":"`+script+`"`) || !strings.Contains(audit, `"courier"`) {
		t.Errorf("audit does not record script and courier:\n%s", audit)
	}
	assertNoMarkerOnDisk(t, e)
}

func TestUnregisteredScriptIsQueuedAsItself(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	script := writeScript(t, dir, "other.sh", "#!/bin/sh\nPASS=$(keychain-auth get myapp db) || exit $?\necho \"got:$PASS\"\n")
	r := e.runIn(dir, "", "./other.sh")
	if r.code != 5 {
		t.Fatalf("unregistered script: exit %d, want 5; stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "keychain-auth: error:") || r.stdout != "" {
		t.Errorf("unregistered script: stdout %q stderr %q", r.stdout, r.stderr)
	}
	recs := e.pending()
	if len(recs) != 1 {
		t.Fatalf("pending = %+v, want one record", recs)
	}
	if recs[0].Path != script || recs[0].Hash != sha256File(t, script) {
		t.Errorf("pending record = %+v, want path %s (the script, not sh or keychain-auth) and its hash", recs[0], script)
	}
	text := e.mustKA("list-pending")
	for _, want := range []string{"Found 1 pending binaries waiting for authorization:", "Path:       " + script, "Hash:       " + recs[0].Hash, "Command:", "Attempted:", "-----"} {
		if !strings.Contains(text, want) {
			t.Errorf("list-pending output lacks %q:\n%s", want, text)
		}
	}
	// Approving the queued hash registers it but grants nothing yet: exit 3.
	e.mustKA("approve", strings.TrimPrefix(recs[0].Hash, "sha256:"))
	if len(e.pending()) != 0 {
		t.Error("approved program is still pending")
	}
	if r := e.runIn(dir, "", "./other.sh"); r.code != 3 {
		t.Errorf("approved but ungranted script: exit %d, want 3; stderr %q", r.code, r.stderr)
	}
}

func TestGoClientRegisteredAndUnregistered(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	tool := filepath.Join(dir, "tool")
	stranger := filepath.Join(dir, "stranger")
	copyFile(t, bin.relay, tool, 0o755)
	copyFile(t, bin.relay, stranger, 0o755)
	e.mustKA("register", tool)
	e.mustKA("grant", tool, "--read", "tool", "--write", "tool", "--search")

	s := e.openSession(tool)
	ok := `{"type":"RESPONSE","status":"success"}`
	if got := s.ask(`{"type":"REQUEST","action":"write","service":"tool","targets":["a/1","a/2"],"values":["v1","v2"],"attributes":{"env":"prod"}}`); got != ok {
		t.Fatalf("write: %s", got)
	}
	got := s.ask(`{"type":"REQUEST","action":"read","service":"tool","match":"prefix","targets":["a/"]}`)
	want := `{"type":"RESPONSE","status":"success","results":[{"target":"a/1","value":"v1","attributes":{"env":"prod"}},{"target":"a/2","value":"v2","attributes":{"env":"prod"}}]}`
	if got != want {
		t.Fatalf("prefix read:\n got %s\nwant %s", got, want)
	}
	if got := s.ask(`{"type":"REQUEST","action":"read","service":"other","targets":["x"]}`); !strings.Contains(got, `"reason":"service_not_allowed"`) {
		t.Errorf("read outside policy: %s", got)
	}

	// A client that writes its request before reading sees the denial line.
	r := e.run(`{"type":"REQUEST","action":"read","service":"tool","targets":["a/1"]}`+"\n", stranger, "-socket", e.socket, "-write-first")
	wantDenied := `{"type":"RESPONSE","status":"denied","reason":"unregistered_binary_pending_approval"}`
	if r.code != 0 || strings.TrimSpace(r.stdout) != wantDenied {
		t.Fatalf("unregistered client: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if recs := e.pending(); len(recs) != 1 || recs[0].Path != stranger {
		t.Errorf("pending = %+v, want the stranger", recs)
	}
}

func TestRevocationAppliesToOpenConnection(t *testing.T) {
	e := newEnv(t)
	e.start()
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(t, bin.relay, tool, 0o755)
	e.mustKA("authorize", tool, "svc")
	s := e.openSession(tool)
	if got := s.ask(`{"type":"REQUEST","action":"write","service":"svc","targets":["k"],"values":["v"]}`); !strings.Contains(got, `"success"`) {
		t.Fatalf("write: %s", got)
	}
	read := `{"type":"REQUEST","action":"read","service":"svc","targets":["k"]}`
	if got := s.ask(read); !strings.Contains(got, `"value":"v"`) {
		t.Fatalf("read before revoke: %s", got)
	}
	e.mustKA("revoke", tool, "--read", "svc")
	if got := s.ask(read); got != `{"type":"RESPONSE","status":"denied","reason":"service_not_allowed"}` {
		t.Fatalf("read after revoke on the same connection: %s", got)
	}
	e.mustKA("grant", tool, "--read", "svc")
	if got := s.ask(read); !strings.Contains(got, `"value":"v"`) {
		t.Fatalf("read after re-grant on the same connection: %s", got)
	}
	e.mustKA("unregister", tool)
	if got := s.ask(read); !strings.Contains(got, `unregistered_binary_pending_approval`) {
		t.Fatalf("read after unregister: %s", got)
	}
}

func TestRestartKeepsData(t *testing.T) {
	for _, mode := range []struct {
		name  string
		extra []string
	}{
		{"key file", nil},
		{"passphrase", []string{"KEYCHAIN_AUTH_PASSPHRASE=correct horse battery"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.extra...)
			e.start()
			dir := e.projectDir()
			script := writeScript(t, dir, "deploy.sh", deployScript)
			e.mustKA("authorize", script, "myapp")
			if r := e.runIn(dir, marker, "./deploy.sh"); r.code != 0 {
				t.Fatalf("deploy.sh: %+v", r)
			}
			e.stop()
			e.start()
			getter := writeScript(t, dir, "get.sh", "#!/bin/sh\nkeychain-auth get myapp db\n")
			e.mustKA("authorize", getter, "myapp")
			r := e.runIn(dir, "", "./get.sh")
			if r.code != 0 || r.stdout != marker {
				t.Fatalf("after restart: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			assertNoMarkerOnDisk(t, e)
		})
	}
}

func TestWrongPassphraseIsClearAndKeepsVault(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE=right one")
	e.start()
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(t, bin.relay, tool, 0o755)
	e.mustKA("authorize", tool, "svc")
	s := e.openSession(tool)
	s.ask(`{"type":"REQUEST","action":"write","service":"svc","targets":["k"],"values":["` + marker + `"]}`)
	e.stop()
	before := snapshot(t, e.home, ".local")

	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE=wrong one")
	r := e.ka("", "serve")
	if r.code == 0 || !strings.Contains(strings.ToLower(r.stderr), "passphrase") {
		t.Fatalf("serve with a wrong passphrase: exit %d, stderr %q", r.code, r.stderr)
	}
	if after := snapshot(t, e.home, ".local"); after != before {
		t.Error("a failed start with a wrong passphrase changed the data directory")
	}
}

// snapshot is the names, sizes and contents' hashes of the files under home/sub.
func snapshot(t *testing.T, home, sub string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(filepath.Join(home, sub), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, ".lock") || strings.HasSuffix(p, "audit.log") {
			return err
		}
		b.WriteString(p + " " + sha256File(t, p) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// assertNoMarkerOnDisk reads every file under HOME and the daemon's log.
func assertNoMarkerOnDisk(t *testing.T, e *env) {
	t.Helper()
	checked := 0
	err := filepath.Walk(e.home, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		checked++
		if strings.Contains(string(b), marker) {
			t.Errorf("secret value found in plaintext in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 3 {
		t.Errorf("checked only %d files: the walk did not see the store", checked)
	}
	if strings.Contains(e.daemonLog(), marker) {
		t.Error("secret value found in the daemon log")
	}
}
