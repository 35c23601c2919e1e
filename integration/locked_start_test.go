//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makePassphraseVault starts the daemon with pass, stores marker under
// svc/k through a registered tool, and stops it.
func makePassphraseVault(t *testing.T, e *env, pass string) {
	t.Helper()
	vars := e.vars
	e.vars = append(append([]string{}, vars...), "KEYCHAIN_AUTH_PASSPHRASE="+pass)
	e.start()
	s := e.storeSession("svc")
	if got := s.ask(writeLine("svc", "k", marker)); !strings.Contains(got, `"status":"success"`) {
		t.Fatalf("write: %s", got)
	}
	e.stop()
	e.vars = vars
}

// LockedStart: a passphrase vault started without its passphrase (as the
// packaged systemd unit and launchd agent do) answers store_locked until
// `keychain-auth unlock`, then serves its items.
func TestLockedStartThenUnlock(t *testing.T) {
	e := newEnv(t)
	makePassphraseVault(t, e, lifePass)
	e.start()
	// The socket answers before the store is open: wait for the log line.
	e.waitLog("started locked")
	s := e.openSession(filepath.Join(e.projectDir(), "tool"))
	if got := s.ask(readLine("svc", "k")); got != lockedAnswer {
		t.Fatalf("read after a locked start: %s, want %s", got, lockedAnswer)
	}
	if out := e.mustKA("status", "--json"); !strings.Contains(out, `"locked":true`) {
		t.Errorf("status after a locked start: %s", out)
	}
	if r := e.ka("not the passphrase\n", "unlock"); r.code != 3 {
		t.Errorf("unlock with a wrong passphrase: exit %d, want 3 (%s)", r.code, r.stderr)
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
	if strings.Contains(e.daemonLog(), lifePass) {
		t.Error("the daemon log holds the passphrase")
	}
}

// LockedStart: a wrong passphrase given at start is still an error (the
// daemon does not hide it behind a locked start).
func TestLockedStartWrongPassphraseFails(t *testing.T) {
	e := newEnv(t)
	makePassphraseVault(t, e, lifePass)
	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE=wrong one entirely")
	if r := e.ka("", "serve"); r.code == 0 || !strings.Contains(r.stderr, "passphrase") {
		t.Fatalf("serve with a wrong passphrase: %+v", r)
	}
}

// LockedStart: a passphrase file that group or others can read is refused
// with a message naming the file and the fix; a 0600 one opens the vault.
func TestLockedStartPassphraseFileModes(t *testing.T) {
	e := newEnv(t)
	makePassphraseVault(t, e, lifePass)
	file := filepath.Join(e.home, "passphrase")
	if err := os.WriteFile(file, []byte(lifePass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE_FILE="+file)
	r := e.ka("", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, file) || !strings.Contains(r.stderr, "0644") || !strings.Contains(r.stderr, "chmod 600") {
		t.Fatalf("serve with a 0644 passphrase file: %+v", r)
	}
	if strings.Contains(r.stderr, lifePass) {
		t.Error("the refusal shows the passphrase")
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	s := e.openSession(filepath.Join(e.projectDir(), "tool"))
	if got := s.ask(readLine("svc", "k")); !strings.Contains(got, marker) {
		t.Fatalf("read with a 0600 passphrase file: %s", got)
	}
}

// LockedStart: passwd warns when the running daemon was started from a
// passphrase file that does not hold the new passphrase, says nothing of
// the kind when the file was updated first, and warns about a short one.
func TestLockedStartPasswdChecksPassphraseFile(t *testing.T) {
	e := newEnv(t)
	makePassphraseVault(t, e, lifePass)
	file := filepath.Join(e.home, "passphrase")
	if err := os.WriteFile(file, []byte(lifePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars = append(e.vars, "KEYCHAIN_AUTH_PASSPHRASE_FILE="+file)
	e.start()
	const second = "second passphrase, long enough"
	r := e.ka(lifePass+"\n"+second+"\n"+second+"\n", "passwd")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: the daemon was started with the passphrase file "+file) {
		t.Fatalf("passwd with a stale passphrase file: %+v", r)
	}
	if err := os.WriteFile(file, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.ka(second+"\nabc\nabc\n", "passwd")
	if r.code != 0 || strings.Contains(r.stderr, "passphrase file") || !strings.Contains(r.stderr, "shorter than 12 characters") {
		t.Fatalf("passwd to a short passphrase already in the file: %+v", r)
	}
	for _, p := range []string{second, "abc\n"} {
		if strings.Contains(r.stderr+r.stdout, p) {
			t.Errorf("passwd output holds a passphrase")
		}
	}
}
