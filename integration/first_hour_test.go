//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// setterScripts writes and authorizes on myapp a script that runs
// `keychain-auth put` and one that runs `keychain-auth get`.
func (e *env) setterScripts(t *testing.T) (set, get string) {
	t.Helper()
	dir := e.projectDir()
	set = writeScript(t, dir, "set-secret.sh", "#!/bin/sh\nkeychain-auth put \"$1\" \"$2\"\n")
	get = writeScript(t, dir, "get-secret.sh", "#!/bin/sh\nkeychain-auth get \"$1\" \"$2\"\n")
	e.mustKA("authorize", set, "myapp")
	e.mustKA("authorize", get, "myapp")
	return set, get
}

const putPrompt = "Value for myapp"

// put at a terminal reads any number of lines without echo until Ctrl-D
// on an empty line, as the README says; a PEM key arrives whole.
func TestPutAtTerminalMultiLine(t *testing.T) {
	e := newEnv(t)
	e.start()
	set, get := e.setterScripts(t)
	pem := "-----BEGIN PRIVATE KEY-----\nMIIB" + marker + "\nsecond line\n-----END PRIVATE KEY-----"
	tm := e.startTerminal(t, set, "myapp", "key")
	tm.waitFor("press Enter, then Ctrl-D")
	if tm.echoing() {
		t.Error("the terminal echoes while the value is typed")
	}
	// A typo fixed with Backspace, as line editing allows; the last line
	// has no newline yet.
	tm.typeText(strings.Replace(pem, "second line", "second linX\x7fe", 1))
	tm.stopAndResume(t)
	tm.typeText("\x04") // Ctrl-D after text on a line does not end the value
	select {
	case <-tm.done:
		t.Fatalf("put ended at a Ctrl-D after text on the line; terminal: %q", tm.out.String())
	default:
	}
	tm.typeText("\n\x04") // Enter, then Ctrl-D on the empty line ends it
	code, shown := tm.wait()
	if code != 0 {
		t.Fatalf("put at a terminal: exit %d; terminal: %q", code, shown)
	}
	if strings.Contains(shown, marker) || strings.Contains(shown, "second line") {
		t.Errorf("the value was shown on the terminal: %q", shown)
	}
	if !tm.echoing() {
		t.Error("echo not turned back on after put")
	}
	if r := e.run("", get, "myapp", "key"); r.code != 0 || r.stdout != pem {
		t.Errorf("get after put: exit %d, value %q, want %q (stderr %s)", r.code, r.stdout, pem, r.stderr)
	}
}

// Ctrl-C while the value is typed stores nothing and gives the terminal
// its echo back.
func TestPutAtTerminalInterrupted(t *testing.T) {
	e := newEnv(t)
	e.start()
	set, get := e.setterScripts(t)
	tm := e.startTerminal(t, set, "myapp", "key")
	tm.waitFor("press Enter, then Ctrl-D")
	tm.typeText("half a " + marker + "\n")
	tm.typeText("\x03")
	code, shown := tm.wait()
	if code == 0 {
		t.Fatalf("put went on after Ctrl-C; terminal: %q", shown)
	}
	if !tm.echoing() {
		t.Error("echo still off after put was interrupted")
	}
	if r := e.run("", get, "myapp", "key"); r.code != 4 {
		t.Errorf("get after an interrupted put: exit %d, want 4 (not found): %q", r.code, r.stdout)
	}
}

// put at a terminal says it will be refused before asking for the value.
// The canary is TestPutAtTerminalMultiLine: the same put from an
// authorized script shows the prompt.
func TestPutAtTerminalRefusedBeforeValue(t *testing.T) {
	e := newEnv(t)
	e.start()
	set, _ := e.setterScripts(t)
	unregistered := writeScript(t, e.projectDir(), "unregistered.sh", "#!/bin/sh\nkeychain-auth put \"$1\" \"$2\"\n")
	refusedFirst := func(name string, want int, says string, path string, args ...string) {
		t.Helper()
		code, shown := e.startTerminal(t, path, args...).wait()
		if code != want || !strings.Contains(shown, says) {
			t.Errorf("%s: exit %d, want %d with %q; terminal: %q", name, code, want, says, shown)
		}
		if strings.Contains(shown, putPrompt) {
			t.Errorf("%s: the value was asked for before the refusal: %q", name, shown)
		}
	}
	refusedFirst("unregistered script", 5, "not registered", unregistered, "myapp", "k")
	if got := e.pending(); !slices.ContainsFunc(got, func(p pendingRecord) bool { return p.Path == unregistered }) {
		t.Errorf("the unregistered script is not queued for approval: %+v", got)
	}
	// Run by this compiled test program, as when typed at a prompt: the
	// CLI relays for scripts only.
	refusedFirst("typed at a prompt", 3, "answer only for scripts", bin.keychainAuth, "put", "myapp", "k")
	e.stop()
	refusedFirst("no daemon", 6, "not running", set, "myapp", "k")

	locked := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	locked.start()
	lset, _ := locked.setterScripts(t)
	locked.mustKA("lock")
	code, shown := locked.startTerminal(t, lset, "myapp", "k").wait()
	if code != 1 || !strings.Contains(shown, "locked") || strings.Contains(shown, putPrompt) {
		t.Errorf("locked store: exit %d, want 1 with \"locked\" and no prompt; terminal: %q", code, shown)
	}
}

// A command's flags may come before the command.
func TestFlagsBeforeCommand(t *testing.T) {
	e := newEnv(t)
	e.start()
	// The default endpoint is elsewhere, so only the flag can reach the daemon.
	elsewhere := []string{"XDG_RUNTIME_DIR=" + t.TempDir(), "HOME=" + t.TempDir()}
	ka := func(args ...string) result {
		return e.runWith(e.home, elsewhere, nil, "", bin.keychainAuth, args...)
	}
	if r := ka("status"); r.code != 6 {
		t.Fatalf("status without the flag reached a daemon (exit %d); the test proves nothing", r.code)
	}
	for _, args := range [][]string{
		{"--socket", e.socket, "status"},
		{"--socket=" + e.socket, "status"},
		{"--json", "--socket", e.socket, "status"},
		{"--socket", e.socket, "status", "--json"},
	} {
		if r := ka(args...); r.code != 0 || !strings.Contains(r.stdout, "running") {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := ka("--json", "--socket", e.socket, "status"); !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("--json before the command was lost: %q", r.stdout)
	}
	// A flag the command does not have is still a usage error.
	if r := ka("--socket", e.socket, "version"); r.code != 2 {
		t.Errorf("--socket before version: exit %d, want 2", r.code)
	}
	if r := ka("--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "keychain-auth ") {
		t.Errorf("--version: exit %d stdout %q", r.code, r.stdout)
	}
}

// serve --help shows no broken value placeholder and names every
// environment variable the daemon's code reads (found in the source).
func TestServeHelpListsEveryVariable(t *testing.T) {
	e := newEnv(t)
	help := e.mustKA("serve", "--help")
	option := regexp.MustCompile(`^\s+(--[a-z-]+)(, -[a-z])?( value| [A-Z]+)?\s{2,}\S`)
	for _, line := range strings.Split(help, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") && !option.MatchString(line) {
			t.Errorf("option line with a broken placeholder: %q", line)
		}
	}
	for _, v := range daemonVariables(t) {
		if !strings.Contains(help, v) {
			t.Errorf("serve --help does not name %s", v)
		}
	}
}

// daemonVariables lists the environment variables read in the module's
// non-test Go files: os.Getenv and os.LookupEnv with a literal, getenv
// with a literal (config's injected lookup), EnvVars of flags, and Env*
// constants. Variables read only by client commands are left out by name.
func daemonVariables(t *testing.T) []string {
	t.Helper()
	clientOnly := map[string]bool{"SUDO_UID": true} // admin commands under sudo
	re := regexp.MustCompile(`(?:Getenv|LookupEnv|getenv)\("([A-Z_]+)"\)|getenv, "([A-Z_]+)"|EnvVars: \[\]string\{"([A-Z_]+)"|Env[A-Za-z]* += "([A-Z_]+)"`)
	seen := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "integration" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			for _, v := range m[1:] {
				if v != "" && !clientOnly[v] {
					seen[v] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for v := range seen {
		vars = append(vars, v)
	}
	slices.Sort(vars)
	if !slices.Contains(vars, "KEYCHAIN_AUTH_PASSPHRASE_FILE") || !slices.Contains(vars, "KEYCHAIN_AUTH_DATA_DIR") {
		t.Fatalf("the source scan missed variables it must find: %v", vars)
	}
	return vars
}

// The released binary's completion scripts are accepted by their shells
// (bash always; zsh and fish where installed: .ci/run installs them).
func TestCompletionScriptsParse(t *testing.T) {
	e := newEnv(t)
	checks := map[string][]string{"bash": {"-n"}, "zsh": {"-n"}, "fish": {"--no-execute"}}
	for shell, flags := range checks {
		t.Run(shell, func(t *testing.T) {
			path, err := exec.LookPath(shell)
			if err != nil && shell != "bash" {
				t.Skipf("%s is not installed (Debian: apt-get install %s)", shell, shell)
			}
			if err != nil {
				t.Fatal(err)
			}
			script := filepath.Join(t.TempDir(), "completion."+shell)
			if err := os.WriteFile(script, []byte(e.mustKA("completion", shell)), 0o600); err != nil {
				t.Fatal(err)
			}
			if r := e.run("", path, append(flags, script)...); r.code != 0 {
				t.Errorf("%s rejects the completion script: exit %d: %s%s", shell, r.code, r.stdout, r.stderr)
			}
			// Canary: the shell does reject a broken script.
			broken := filepath.Join(t.TempDir(), "broken."+shell)
			if err := os.WriteFile(broken, []byte("if then fi (\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if r := e.run("", path, append(flags, broken)...); r.code == 0 {
				t.Errorf("%s accepts a broken script; the check proves nothing", shell)
			}
		})
	}
}

// unlock asks for no passphrase when the store is not locked, and asks
// when it is (the canary).
func TestUnlockAsksOnlyWhenLocked(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	code, shown := e.startTerminal(t, bin.keychainAuth, "unlock").wait()
	if code != 0 || !strings.Contains(shown, "not locked") || strings.Contains(shown, "assphrase (") {
		t.Errorf("unlock of an open vault: exit %d; terminal: %q", code, shown)
	}
	e.mustKA("lock")
	tm := e.startTerminal(t, bin.keychainAuth, "unlock")
	tm.waitFor("Vault passphrase")
	tm.typeText(lifePass + "\n")
	if code, shown := tm.wait(); code != 0 || strings.Contains(shown, lifePass) {
		t.Errorf("unlock of a locked vault: exit %d; terminal: %q", code, shown)
	}
	if out := e.mustKA("status", "--json"); !strings.Contains(out, `"locked":false`) {
		t.Errorf("still locked after unlock: %s", out)
	}
}

// serve warns about a short vault passphrase (and not about a long one).
func TestServeWarnsShortPassphrase(t *testing.T) {
	for pass, warned := range map[string]bool{"abc": true, lifePass: false} {
		e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+pass)
		e.start()
		// The socket answers before the store is open: wait for the line
		// that follows the passphrase check.
		log := e.waitLog("backend selected")
		if strings.Contains(log, "passphrase is short") != warned {
			t.Errorf("passphrase of %d characters: warned %v, want %v; log: %s", len(pass), !warned, warned, log)
		}
		if strings.Contains(log, pass) {
			t.Errorf("the daemon log holds the passphrase")
		}
		e.stop()
	}
}

// waitLog waits until the daemon's log holds text and returns the log.
func (e *env) waitLog(text string) string {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if log := e.daemonLog(); strings.Contains(log, text) {
			return log
		}
	}
	e.t.Fatalf("no %q in the daemon log within 10s: %s", text, e.daemonLog())
	return ""
}

// passwd through a daemon whose store is locked says so before asking for
// any passphrase; unlocked (the canary), it asks.
func TestPasswdRefusedBeforeAsking(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	e.mustKA("lock")
	code, shown := e.startTerminal(t, bin.keychainAuth, "passwd").wait()
	if code != 1 || !strings.Contains(shown, "locked") || strings.Contains(shown, "passphrase: ") {
		t.Errorf("passwd with the store locked: exit %d; terminal: %q", code, shown)
	}
	if r := e.ka(lifePass+"\n", "unlock"); r.code != 0 {
		t.Fatalf("unlock: %+v", r)
	}
	tm := e.startTerminal(t, bin.keychainAuth, "passwd")
	tm.waitFor("Current vault passphrase: ")
}

// Ctrl-C at a passphrase prompt gives the terminal its echo back.
func TestPassphrasePromptInterrupted(t *testing.T) {
	e := newEnv(t, "KEYCHAIN_AUTH_PASSPHRASE="+lifePass)
	e.start()
	e.mustKA("lock")
	tm := e.startTerminal(t, bin.keychainAuth, "unlock")
	tm.waitFor("Vault passphrase")
	if tm.echoing() {
		t.Error("the terminal echoes while the passphrase is typed")
	}
	tm.typeText("half")
	tm.typeText("\x03")
	if code, shown := tm.wait(); code == 0 {
		t.Fatalf("unlock went on after Ctrl-C; terminal: %q", shown)
	}
	if !tm.echoing() {
		t.Error("echo still off after Ctrl-C at the passphrase prompt")
	}
}
