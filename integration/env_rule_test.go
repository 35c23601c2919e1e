//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnvRuleNamesVariable: the environment rule refuses the loaders of
// libraries (OPENSSL_CONF and kin), not an empty LD_PRELOAD= or the
// variables of a developer's shell that load nothing; the answer's hint
// names the variable and the grant that would allow it.
func TestEnvRuleNamesVariable(t *testing.T) {
	e := newEnv(t)
	e.start()
	tool := e.registeredTool()
	wantAnswer(t, "clean environment (canary)", e.askOnce(tool), "")
	for _, v := range []string{"OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES", "GIO_EXTRA_MODULES", "GCONV_PATH", "P11_KIT_SERVER_ADDRESS", "GTK_MODULES", "SSLKEYLOGFILE"} {
		got := e.askOnce(tool, v+"=/tmp/x")
		wantAnswer(t, v, got, "injected_environment")
		if want := "keychain-auth grant " + tool + " --allow-env " + v; !strings.Contains(got, want) {
			t.Errorf("%s: answer %s lacks the hint %q", v, got, want)
		}
	}
	harmless := []string{"LD_PRELOAD=", "PYTHONPATH=", "GOPATH=/go", "JAVA_HOME=/usr/lib/jvm/x", "NODE_ENV=development",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "VIRTUAL_ENV=/v", "CARGO_HOME=/c", "RUST_LOG=debug",
		"EDITOR=vi", "LD_BIND_NOW=1", "GIT_AUTHOR_NAME=x", "SSL_CERT_DIR=/etc/ssl/certs", "DEBUG=1"}
	wantAnswer(t, "development variables", e.askOnce(tool, harmless...), "")
}

// TestOpenSSLConfInjection: OPENSSL_CONF naming the attacker's provider
// module loads it into a registered program that initialises OpenSSL (here
// a python3 script that imports ssl). The module runs either way, but the
// program's request is refused while the entry does not allow the variable;
// with `grant --allow-env OPENSSL_CONF` (the canary) the same run is
// allowed. The CLI's stderr, the daemon log and the audit line name the
// variable and the grant.
func TestOpenSSLConfInjection(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the attacker's module")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	evil := filepath.Join(e.home, "evil")
	os.Mkdir(evil, 0o755)
	src := filepath.Join(evil, "evil.c")
	os.WriteFile(src, []byte(`#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void ran(void) {
	const char *p = getenv("KCA_EVIL_OUT");
	int fd = p ? open(p, O_CREAT | O_WRONLY | O_APPEND, 0600) : -1;
	if (fd >= 0) { write(fd, "ran\n", 4); close(fd); }
}
`), 0o644)
	so := filepath.Join(evil, "evil.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, src).CombinedOutput(); err != nil {
		t.Skipf("cc cannot build a shared object: %v %s", err, out)
	}
	conf := filepath.Join(evil, "evil.cnf")
	os.WriteFile(conf, []byte("openssl_conf = init\n[init]\nproviders = prov\n[prov]\nevil = evil_sect\n[evil_sect]\nmodule = "+so+"\nactivate = 1\n"), 0o644)
	out := filepath.Join(evil, "out")

	fetch := writeScript(t, dir, "fetch.py", `#!/usr/bin/python3
import ssl, subprocess, sys
r = subprocess.run(["keychain-auth", "get", "svc", "key"])
sys.exit(r.returncode)
`)
	e.mustKA("authorize", fetch, "svc")
	attack := []string{"OPENSSL_CONF=" + conf, "KCA_EVIL_OUT=" + out}

	r := e.runWith(dir, attack, nil, "", fetch)
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "ran") {
		t.Fatalf("the module did not load (the attack is not effective here): %+v", r)
	}
	grant := "keychain-auth grant " + fetch + " --allow-env OPENSSL_CONF"
	if r.code != 3 || !strings.Contains(r.stderr, "injected_environment") || !strings.Contains(r.stderr, "OPENSSL_CONF") || !strings.Contains(r.stderr, grant) {
		t.Errorf("with OPENSSL_CONF: exit %d, stderr %q; want 3 naming the variable and %q", r.code, r.stderr, grant)
	}
	if audit := e.mustKA("audit", "--json", "-n", "1"); !strings.Contains(audit, `"reason":"injected_environment"`) || !strings.Contains(audit, grant) {
		t.Errorf("audit line does not name the variable and the grant:\n%s", audit)
	}
	if log := e.daemonLog(); !strings.Contains(log, grant) {
		t.Errorf("daemon log does not name the variable and the grant:\n%s", log)
	}

	e.mustKA("grant", fetch, "--allow-env", "OPENSSL_CONF")
	if r := e.runWith(dir, attack, nil, "", fetch); r.code != 0 && r.code != 4 {
		t.Errorf("allowed (canary): exit %d, stderr %q; want the request served", r.code, r.stderr)
	}
}
