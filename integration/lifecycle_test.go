//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const lifePass = "lifecycle passphrase 7f3a"

// storeSession registers a copy of the relay as a tool allowed on service
// (read, write, search) and opens a connection for it.
func (e *env) storeSession(service string) *session {
	e.t.Helper()
	tool := filepath.Join(e.projectDir(), "tool")
	if _, err := os.Stat(tool); err != nil {
		copyFile(e.t, bin.relay, tool, 0o755)
		e.mustKA("register", tool)
	}
	e.mustKA("grant", tool, "--read", service, "--write", service, "--search")
	return e.openSession(tool)
}

func writeLine(service, key, value string) string {
	return fmt.Sprintf(`{"type":"REQUEST","action":"write","service":%q,"targets":[%q],"values":[%q]}`, service, key, value)
}

func readLine(service, key string) string {
	return fmt.Sprintf(`{"type":"REQUEST","action":"read","service":%q,"targets":[%q]}`, service, key)
}

const lockedAnswer = `{"type":"RESPONSE","status":"error","reason":"store_locked"}`

func TestLockAndUnlock(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	if r := e.ka("", "lock"); r.code != 6 {
		t.Errorf("lock without daemon: exit %d, want 6", r.code)
	}
	e.start()
	s := e.storeSession("svc")
	s.ask(writeLine("svc", "k", marker))
	e.mustKA("lock")
	if got := s.ask(readLine("svc", "k")); got != lockedAnswer {
		t.Fatalf("read while locked: %s", got)
	}
	if out := e.mustKA("status", "--json"); !strings.Contains(out, `"locked":true`) {
		t.Errorf("status while locked: %s", out)
	}
	begin := time.Now()
	if r := e.ka("wrong passphrase\n", "unlock"); r.code != 3 || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Errorf("unlock with a wrong passphrase: exit %d stderr %q, want 3", r.code, r.stderr)
	}
	if d := time.Since(begin); d < 900*time.Millisecond {
		t.Errorf("a failed unlock was answered after %v; want the delay of about 1s", d)
	}
	if got := s.ask(readLine("svc", "k")); got != lockedAnswer {
		t.Fatalf("read after a failed unlock: %s", got)
	}
	if r := e.ka(lifePass+"\n", "unlock"); r.code != 0 {
		t.Fatalf("unlock: %+v", r)
	}
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, `"value":"`+marker+`"`) {
		t.Fatalf("read after unlock: %s", got)
	}
	if out := e.mustKA("status", "--json"); !strings.Contains(out, `"locked":false`) {
		t.Errorf("status after unlock: %s", out)
	}
	// Every decision is audited; no passphrase is logged anywhere.
	auditLog := string(mustRead(t, filepath.Join(e.home, ".local", "share", "keychain-auth", "audit.log")))
	for _, want := range []string{`"action":"lock","status":"success"`, `"action":"unlock","status":"denied","reason":"bad_passphrase"`, `"action":"unlock","status":"success"`} {
		if !strings.Contains(auditLog, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	for _, where := range []string{auditLog, e.daemonLog()} {
		if strings.Contains(where, lifePass) || strings.Contains(where, "wrong passphrase\n") {
			t.Error("a passphrase reached the audit log or the daemon log")
		}
	}
}

func TestAutoLock(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start("--auto-lock", "700ms")
	s := e.storeSession("svc")
	s.ask(writeLine("svc", "k", "v"))
	// Requests keep it open.
	for i := 0; i < 4; i++ {
		time.Sleep(300 * time.Millisecond)
		if got := s.ask(readLine("svc", "k")); !strings.Contains(got, `"value":"v"`) {
			t.Fatalf("read %d while active: %s", i, got)
		}
	}
	time.Sleep(1200 * time.Millisecond)
	if got := s.ask(readLine("svc", "k")); got != lockedAnswer {
		t.Fatalf("read after idle: %s", got)
	}
	if !strings.Contains(e.daemonLog(), "store locked after idle time") {
		t.Errorf("auto-lock not logged: %s", e.daemonLog())
	}
	r := e.run(lifePass+"\n", bin.keychainAuth, "unlock")
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, `"value":"v"`) {
		t.Fatalf("read after unlock (unlock: %+v): %s", r, got)
	}
}

func TestAutoLockNeedsLockableStore(t *testing.T) {
	e := newEnv(t)
	if r := e.ka("", "serve", "--auto-lock", "1m", "--backend", "secret-service"); r.code == 0 {
		t.Fatalf("serve --auto-lock on a keyring started: %+v", r)
	}
}

func TestPasswdThroughDaemonKeepsItUnlocked(t *testing.T) {
	e := newEnv(t)
	e.start()
	s := e.storeSession("svc")
	s.ask(writeLine("svc", "k", marker))
	keyFile := filepath.Join(e.home, ".local", "share", "keychain-auth", "vault.key")
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("key-file vault has no key file: %v", err)
	}
	if r := e.ka("a\nb\n", "passwd"); r.code == 0 {
		t.Fatal("passwd accepted two different new passphrases")
	}
	r := e.ka(lifePass+"\n"+lifePass+"\n", "passwd")
	if r.code != 0 || !strings.Contains(r.stderr, "KEYCHAIN_AUTH_PASSPHRASE") {
		t.Fatalf("passwd: %+v", r)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("key file still there after passwd: %v", err)
	}
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, marker) {
		t.Fatalf("daemon not usable after passwd: %s", got)
	}
	// Now the current passphrase is asked for, and checked.
	if r := e.ka("not it\nnew one\nnew one\n", "passwd"); r.code != 3 {
		t.Errorf("passwd with a wrong current passphrase: %+v", r)
	}
	e.stop()
	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	s = e.openSession(filepath.Join(e.projectDir(), "tool"))
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, marker) {
		t.Fatalf("after restart with the new passphrase: %s", got)
	}
	assertNoMarkerOnDisk(t, e)
}

func TestPasswdOffline(t *testing.T) {
	e := newEnv(t)
	e.start()
	s := e.storeSession("svc")
	s.ask(writeLine("svc", "k", "v1"))
	e.stop()
	if r := e.ka(lifePass+"\n"+lifePass+"\n", "passwd"); r.code != 0 {
		t.Fatalf("offline passwd: %+v", r)
	}
	if r := e.run("", "env", "KEYCHAIN_AUTH_PASSPHRASE=not the new one", bin.keychainAuth, "serve"); r.code == 0 || !strings.Contains(r.stderr, "passphrase") {
		t.Fatalf("serve with a passphrase other than the new one: %+v", r)
	}
	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	s = e.openSession(filepath.Join(e.projectDir(), "tool"))
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, `"value":"v1"`) {
		t.Fatalf("after offline passwd: %s", got)
	}
}

func TestBackendChoiceIsRemembered(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.stop()
	record := filepath.Join(e.home, ".local", "share", "keychain-auth", "backend")
	if got := strings.TrimSpace(string(mustRead(t, record))); got != "file" {
		t.Fatalf("backend record = %q, want file", got)
	}
	// auto without a session bus picks the vault: the same as last time.
	e.vars = append(e.vars, "KEYCHAIN_AUTH_BACKEND=auto")
	e.start()
	e.stop()
	// Last time it was the keyring; auto now picks the vault: refuse.
	if err := os.WriteFile(record, []byte("secret-service\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.ka("", "serve")
	if r.code == 0 || !strings.Contains(r.stderr, "secret-service") || !strings.Contains(r.stderr, "chose file") || !strings.Contains(r.stderr, "migrate") {
		t.Fatalf("auto choosing a different store: exit %d stderr %q", r.code, r.stderr)
	}
	// A named backend updates the record.
	e.start("--backend", "file")
	e.stop()
	if got := strings.TrimSpace(string(mustRead(t, record))); got != "file" {
		t.Errorf("backend record after --backend file = %q", got)
	}
}

// migrateFixture fills the default vault (key file) with items in two
// services and returns them as service -> key -> value.
func migrateFixture(t *testing.T, e *env) map[string]map[string]string {
	e.start()
	want := map[string]map[string]string{
		"app-one": {"db/user": "u1", "db/pass": marker, "empty": ""},
		"app-two": {"token": "t2 with spaces", "ünïcode/κλειδί": "välue\nline2"},
	}
	for svc, items := range want {
		s := e.storeSession(svc)
		for k, v := range items {
			if got := s.ask(fmt.Sprintf(`{"type":"REQUEST","action":"write","service":%q,"targets":[%q],"values":[%q],"attributes":{"origin":"fixture"}}`, svc, k, v)); !strings.Contains(got, "success") {
				t.Fatalf("write %s/%s: %s", svc, k, got)
			}
		}
	}
	return want
}

// checkItems reads every item back through a daemon and compares values
// and attributes.
func checkItems(t *testing.T, e *env, want map[string]map[string]string) {
	t.Helper()
	for svc, items := range want {
		s := e.storeSession(svc)
		for k, v := range items {
			got := s.ask(readLine(svc, k))
			wantRes := fmt.Sprintf(`{"target":%q,"value":%q,"attributes":{"origin":"fixture"}}`, k, v)
			if !strings.Contains(got, wantRes) {
				t.Errorf("%s/%s: %s", svc, k, got)
			}
		}
	}
}

func TestMigrateKeyFileVaultToPassphraseVault(t *testing.T) {
	e := newEnv(t)
	want := migrateFixture(t, e)
	dest := filepath.Join(e.home, "newvault")
	if r := e.ka("", "migrate", "--from", "file", "--to", "file", "--to-dir", dest); r.code != 1 || !strings.Contains(r.stderr, "daemon is running") {
		t.Errorf("migrate while the daemon runs: %+v", r)
	}
	e.stop()
	// The destination: a passphrase vault holding one conflicting item.
	destEnv := append([]string{"KEYCHAIN_AUTH_DATA_DIR=" + dest}, e.vars...)
	saved := e.vars
	e.vars = destEnv
	if r := e.ka(lifePass+"\n"+lifePass+"\n", "passwd"); r.code != 0 {
		t.Fatalf("passwd on a new destination: %+v", r)
	}
	e.vars = append(destEnv, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	e.storeSession("app-one").ask(`{"type":"REQUEST","action":"write","service":"app-one","targets":["db/user"],"values":["other"],"attributes":{"origin":"fixture"}}`)
	e.stop()
	e.vars = saved

	before := snapshot(t, e.home, ".local")
	r := e.ka(lifePass+"\n", "migrate", "--from", "file", "--to", "file", "--to-dir", dest)
	if r.code != 1 || !strings.Contains(r.stderr, "app-one/db/user") || !strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("migrate onto a conflicting item: %+v", r)
	}
	r = e.ka(lifePass+"\n", "migrate", "--from", "file", "--to", "file", "--to-dir", dest, "--overwrite")
	if r.code != 0 || !strings.Contains(r.stdout, "migrated 5 items in 2 services") || !strings.Contains(r.stdout, "5 copied") || !strings.Contains(r.stderr, "left as it is") {
		t.Fatalf("migrate --overwrite: %+v", r)
	}
	if after := snapshot(t, e.home, ".local"); after != before {
		t.Error("migrate changed the source vault")
	}
	// Again: everything is there already; nothing needs --overwrite.
	r = e.ka(lifePass+"\n", "migrate", "--from", "file", "--to", "file", "--to-dir", dest)
	if r.code != 0 || !strings.Contains(r.stdout, "0 copied, 5 already there") {
		t.Fatalf("second migrate: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, marker) {
		t.Error("migrate printed a value")
	}
	e.vars = append(destEnv, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	checkItems(t, e, want)
}

func TestMigrateRefusals(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"migrate", "--from", "file", "--to", "file"},
		{"migrate", "--from", "auto", "--to", "file", "--to-dir", "x"},
		{"migrate", "--from", "nosuch", "--to", "file"},
		{"migrate", "--to", "file"},
	} {
		if r := e.ka("", args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
	// A source vault that does not exist is not created.
	r := e.ka("", "migrate", "--from", "file", "--to", "file", "--to-dir", filepath.Join(e.home, "b"))
	if r.code != 1 || !strings.Contains(r.stderr, "no vault") {
		t.Errorf("migrate from nothing: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(e.home, ".local", "share", "keychain-auth", "vault.kav")); !os.IsNotExist(err) {
		t.Errorf("migrate created a source vault: %v", err)
	}
}

// TestMigrateThroughSecretService copies the vault into a real Secret
// Service and back out into a new vault (opt-in: scripts/with-secret-service.sh).
func TestMigrateThroughSecretService(t *testing.T) {
	if os.Getenv("KEYCHAIN_AUTH_TEST_SECRET_SERVICE") != "1" {
		t.Skip("needs a real Secret Service: run under scripts/with-secret-service.sh (KEYCHAIN_AUTH_TEST_SECRET_SERVICE=1)")
	}
	e := newEnv(t, "DBUS_SESSION_BUS_ADDRESS="+os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	want := migrateFixture(t, e)
	e.stop()
	r := e.ka("", "migrate", "--from", "file", "--to", "secret-service", "--overwrite")
	if r.code != 0 || !strings.Contains(r.stdout, "migrated 5 items in 2 services") {
		t.Fatalf("migrate into the secret service: %+v", r)
	}
	back := filepath.Join(e.home, "back")
	r = e.ka("", "migrate", "--from", "secret-service", "--to", "file", "--to-dir", back)
	if r.code != 0 || !strings.Contains(r.stdout, "5 copied") {
		t.Fatalf("migrate out of the secret service: %+v", r)
	}
	e.vars = append(e.vars, "KEYCHAIN_AUTH_DATA_DIR="+back)
	e.start()
	checkItems(t, e, want)
}
