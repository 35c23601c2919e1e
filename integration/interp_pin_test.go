//go:build linux

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pinnedScript reads its value with the CLI; with "put" it stores stdin.
const pinnedScript = `#!/usr/bin/python3 -I
import subprocess, sys
args = ["put", "svc", "key"] if sys.argv[1:] == ["put"] else ["get", "svc", "key"]
sys.exit(subprocess.run(["keychain-auth"] + args).returncode)
`

// plantedModule is what the attacker puts beside the script: without -I
// the script's directory comes first on sys.path, so its `import
// subprocess` runs this as the script. It starts the CLI as the script's
// own child (the courier rule then relays for the script) with the output
// going to the attacker's file.
const plantedModule = `import os
out = os.environ["KCA_STOLEN"]
pid = os.fork()
if pid == 0:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.execvp("keychain-auth", ["keychain-auth", "get", "svc", "key"])
os.waitpid(pid, 0)
raise SystemExit(0)
`

// TestInterpreterPinPython: a python3 script registered from its
// `#!/usr/bin/python3 -I` line. The attacker plants subprocess.py beside it
// and starts it as `python3 script` (no -I). Canary: with the entry's pin
// removed (an entry registered before interpreters were pinned) the planted
// module runs as the script and gets the value. With the pin the run is
// refused (interpreter_options_mismatch), the CLI's stderr names how the
// script is registered, and the audit line has the reason; the script run
// as registered (by its path: -I) ignores the planted module and reads.
func TestInterpreterPinPython(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is needed (.ci/run installs python3)")
	}
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	script := writeScript(t, dir, "fetch.py", pinnedScript)
	e.mustKA("authorize", script, "svc")
	if pol := e.mustKA("policy"); !strings.Contains(pol, "runs as:") || !strings.Contains(pol, " -I (pinned by path)") {
		t.Fatalf("policy does not show the pinned interpreter:\n%s", pol)
	}
	if r := e.runIn(dir, "the-value", script, "put"); r.code != 0 {
		t.Fatalf("put as registered: %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "subprocess.py"), []byte(plantedModule), 0o644); err != nil {
		t.Fatal(err)
	}
	stolen := filepath.Join(e.home, "stolen")
	attack := func() result {
		os.Remove(stolen)
		return e.runWith(e.home, []string{"KCA_STOLEN=" + stolen}, nil, "", "/usr/bin/python3", script)
	}

	// Canary: the same entry without its pin.
	unpin(t, e)
	attack()
	if b, _ := os.ReadFile(stolen); strings.TrimSpace(string(b)) != "the-value" {
		t.Fatalf("canary: without the pin the planted module should have read the value, got %q\ndaemon: %s", b, e.daemonLog())
	}
	e.mustKA("upgrade", script) // pins again, from the #! line

	r := attack()
	if b, _ := os.ReadFile(stolen); strings.Contains(string(b), "the-value") {
		t.Fatal("with the pin the planted module still read the value")
	}
	if !strings.Contains(r.stderr, "interpreter_options_mismatch") && !strings.Contains(r.stderr, "registered to run as") {
		t.Errorf("the refusal does not say how the script is registered: %+v", r)
	}
	if audit := e.mustKA("audit", "--json", "-n", "1"); !strings.Contains(audit, `"reason":"interpreter_options_mismatch"`) {
		t.Errorf("audit line lacks interpreter_options_mismatch:\n%s", audit)
	}
	os.Remove(stolen) // the planted module ran in the refused attack; its file is empty
	if r := e.runIn(e.home, "", script); r.code != 0 || strings.TrimSpace(r.stdout) != "the-value" {
		t.Errorf("run as registered (-I, planted module ignored): %+v", r)
	}
	if _, err := os.Stat(stolen); err == nil {
		t.Error("the planted module ran in the run as registered")
	}
}

// TestInterpreterPinShell: a #!/bin/sh script started with bash, or with an
// option its #! line does not have, is refused; by its path it works.
// Canary: the unpinned entry admits the bash run.
func TestInterpreterPinShell(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	script := writeScript(t, dir, "deploy.sh", "#!/bin/sh\nkeychain-auth ls svc >/dev/null\n")
	e.mustKA("authorize", script, "svc")
	if r := e.runIn(dir, "", script); r.code != 0 {
		t.Fatalf("by its path: %+v", r)
	}
	unpin(t, e)
	if r := e.runIn(dir, "", "/bin/bash", script); r.code != 0 {
		t.Fatalf("canary: the unpinned entry should admit bash: %+v", r)
	}
	e.mustKA("upgrade", script)
	if r := e.runIn(dir, "", "/bin/bash", script); r.code != 3 || !strings.Contains(r.stderr, "interpreter_mismatch") && !strings.Contains(r.stderr, "registered to run under") {
		t.Errorf("under bash: %+v; want exit 3, interpreter_mismatch", r)
	}
	if r := e.runIn(dir, "", "/bin/sh", "-e", script); r.code != 3 {
		t.Errorf("with -e added: %+v; want exit 3", r)
	}
}

// envLookPath finds name on the PATH that newEnv gives the programs it
// runs (after the directory of the built CLI), not on this test process's
// PATH: register resolves a #!/usr/bin/env line on that PATH, and a
// script started under another interpreter (a version manager's shim
// earlier on the developer's PATH) is refused interpreter_mismatch.
func envLookPath(name string) (string, error) {
	for _, dir := range []string{"/usr/local/bin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in /usr/local/bin, /usr/bin, /bin", name)
}

// unpin removes the interpreter pin of every entry, as in a policy written
// before pins existed.
func unpin(t *testing.T, e *env) {
	t.Helper()
	path := filepath.Join(e.home, ".config", "keychain-auth", "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, entry := range doc["registered_binaries"].([]any) {
		delete(entry.(map[string]any), "interpreter")
	}
	out, _ := json.Marshal(doc)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}
