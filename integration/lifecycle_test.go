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
	e.run(lifePass+"\n", bin.keychainAuth, "unlock")
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, `"value":"v"`) {
		t.Fatalf("read after unlock: %s", got)
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
	if r := e.ka("", "serve"); r.code == 0 || !strings.Contains(r.stderr, "passphrase") {
		t.Fatalf("serve without the new passphrase: %+v", r)
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
