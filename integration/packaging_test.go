//go:build linux

package integration

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// serviceFile is how a packaged service file starts the daemon: its argv and
// the passphrase file its commented-out example names (with the home
// directory placeholder still in it).
type serviceFile struct {
	name, homeVar string
	argv          []string
	passFile      string
}

func readPackaging(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "packaging", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// userUnit reads packaging/systemd/keychain-auth.service.
func userUnit(t *testing.T) serviceFile {
	unit := readPackaging(t, "systemd/keychain-auth.service")
	l := serviceFile{name: "systemd user unit", homeVar: "%h"}
	if m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(unit); m != nil {
		l.argv = strings.Fields(m[1])
	}
	if m := regexp.MustCompile(`(?m)^#Environment=KEYCHAIN_AUTH_PASSPHRASE_FILE=(\S+)$`).FindStringSubmatch(unit); m != nil {
		l.passFile = m[1]
	}
	return l
}

// launchAgent reads packaging/launchd/com.keychain-auth.agent.plist, which
// must be well-formed XML.
func launchAgent(t *testing.T) serviceFile {
	plist := readPackaging(t, "launchd/com.keychain-auth.agent.plist")
	dec := xml.NewDecoder(strings.NewReader(plist))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the launchd agent is not well-formed XML: %v", err)
		}
	}
	l := serviceFile{name: "launchd agent", homeVar: "__HOME__"}
	if m := regexp.MustCompile(`(?s)<key>ProgramArguments</key>\s*<array>(.*?)</array>`).FindStringSubmatch(plist); m != nil {
		for _, s := range regexp.MustCompile(`<string>(.*?)</string>`).FindAllStringSubmatch(m[1], -1) {
			l.argv = append(l.argv, s[1])
		}
	}
	if m := regexp.MustCompile(`KEYCHAIN_AUTH_PASSPHRASE_FILE</key>\s*<string>(.*?)</string>`).FindStringSubmatch(plist); m != nil {
		l.passFile = m[1]
	}
	return l
}

// The packaged user unit and launch agent start `serve` with no store
// named, and that one command works with each store a user may have: a
// key-file vault, a passphrase vault (started locked, then `unlock`), and
// a passphrase vault with the passphrase file their comments show. The
// Secret Service needs nothing of the unit (its own tests run it); the
// launchd agent runs here as its command line only (no launchd on Linux).
func TestPackagedServicesRunEveryStore(t *testing.T) {
	for _, l := range []serviceFile{userUnit(t), launchAgent(t)} {
		t.Run(strings.ReplaceAll(l.name, " ", "_"), func(t *testing.T) {
			if len(l.argv) != 2 || l.argv[1] != "serve" || !filepath.IsAbs(l.argv[0]) && !strings.HasPrefix(l.argv[0], "__") {
				t.Fatalf("%s starts %q, want an absolute keychain-auth path and serve, nothing else", l.name, l.argv)
			}
			if l.passFile == "" || !strings.HasPrefix(l.passFile, l.homeVar+"/") {
				t.Fatalf("%s shows no passphrase file under %s: %q", l.name, l.homeVar, l.passFile)
			}
			serviceStores(t, l)
		})
	}
}

func serviceStores(t *testing.T, l serviceFile) {
	// As a service starts it: no backend named (auto), no passphrase.
	plain := func(e *env) {
		e.vars = slices.DeleteFunc(e.vars, func(v string) bool { return strings.HasPrefix(v, "KEYCHAIN_AUTH_BACKEND=") })
	}
	keyFile := newEnv(t)
	plain(keyFile)
	keyFile.start()
	if out := keyFile.mustKA("status", "--json"); !strings.Contains(out, `"backend":"file"`) || !strings.Contains(out, `"locked":false`) {
		t.Errorf("key-file vault: %s", out)
	}
	keyFile.stop()

	pass := newEnv(t)
	plain(pass)
	makePassphraseVault(t, pass, lifePass)
	pass.start()
	if out := pass.mustKA("status", "--json"); !strings.Contains(out, `"locked":true`) {
		t.Errorf("passphrase vault without its passphrase: not a locked start: %s", out)
	}
	if r := pass.ka(lifePass+"\n", "unlock"); r.code != 0 {
		t.Errorf("unlock after a locked start: %+v", r)
	}
	pass.stop()

	file := strings.Replace(l.passFile, l.homeVar, pass.home, 1)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(lifePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pass.vars = append(pass.vars, "KEYCHAIN_AUTH_PASSPHRASE_FILE="+file)
	pass.start()
	if out := pass.mustKA("status", "--json"); !strings.Contains(out, `"locked":false`) {
		t.Errorf("passphrase vault with the example's passphrase file: %s", out)
	}
}

// systemd accepts the user unit (with ExecStart pointed at the test
// binary); the canary is the same unit with a program that does not exist.
func TestUserUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit := readPackaging(t, "systemd/keychain-auth.service")
	verify := func(exe string) result {
		dir := t.TempDir()
		body := strings.Replace(unit, "ExecStart=/usr/local/bin/keychain-auth ", "ExecStart="+exe+" ", 1)
		if err := os.WriteFile(filepath.Join(dir, "keychain-auth.service"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		e := newEnv(t)
		return e.runIn(dir, "", analyze, "verify", "./keychain-auth.service")
	}
	if r := verify(bin.keychainAuth); r.code != 0 || r.stderr != "" {
		t.Errorf("systemd-analyze verify: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := verify(filepath.Join(t.TempDir(), "missing")); r.code == 0 {
		t.Errorf("systemd-analyze verify accepts a unit whose program is missing; the check proves nothing")
	}
}
