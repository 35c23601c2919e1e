//go:build linux

package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCourierRelaysOnlyForScripts: the CLI is authorized as its parent only
// when the parent is a script the daemon verified. A program that starts
// the CLI and then execs an approved binary would otherwise borrow that
// binary's entry (auth TestLimitationCourierParentExec shows the verifier
// attributing such a request to the approved binary: the canary); here the
// daemon refuses it end to end, and the secret never reaches the attacker.
func TestCourierRelaysOnlyForScripts(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1) on PATH")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	// The approved program: any registered binary still running at request
	// time will do; sleep is one.
	e.mustKA("authorize", sleep, "svc")
	setter := writeScript(t, dir, "set.sh", "#!/bin/sh\nkeychain-auth put svc key\n")
	e.mustKA("authorize", setter, "svc")
	if r := e.runIn(dir, marker, "./set.sh"); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	attack := writeScript(t, dir, "attack.sh", `#!/bin/sh
# Start the CLI in the background, then become the approved program.
( sleep 0.5; exec keychain-auth get svc key ) &
exec `+sleep+` 2
`)
	r := e.runIn(dir, "", attack)
	if strings.Contains(r.stdout, marker) {
		t.Fatalf("the CLI relayed for a parent that exec'ed an approved binary: stdout %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "only for scripts") {
		t.Errorf("stderr %q does not explain the refusal", r.stderr)
	}
	audit := e.mustKA("audit", "--json", "-n", "3")
	if !strings.Contains(audit, `"reason":"courier_parent_not_script"`) {
		t.Errorf("audit lacks the refusal:\n%s", audit)
	}

	// Typed at a shell (sh -c here): refused the same way, exit 3, and
	// nothing queued for approval (approving the shell would be a mistake).
	r = e.runIn(dir, "", "/bin/sh", "-c", "keychain-auth get svc key")
	if r.code != 3 || r.stdout != "" {
		t.Errorf("get from sh -c: exit %d stdout %q, want 3 and nothing", r.code, r.stdout)
	}
	if recs := e.pending(); len(recs) != 0 {
		t.Errorf("pending = %+v, want nothing queued", recs)
	}
}
