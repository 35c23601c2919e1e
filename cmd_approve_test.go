package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Approving a new hash for a path already in the policy keeps that entry's
// permissions; the admin must be told so, not that it "may use nothing yet".
func TestApproveKnownPathSaysPermissionsStay(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYCHAIN_AUTH_CONFIG_DIR", filepath.Join(dir, "config"))
	tool := filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(tool, toolFixture("echo one\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ka := func(args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"keychain-auth"}, args...), strings.NewReader(""), &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		return out.String(), errb.String()
	}
	ka("register", tool)
	ka("grant", tool, "--read", "prod")
	if err := os.WriteFile(tool, toolFixture("echo two\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := hashProgram(tool)
	if err != nil {
		t.Fatal(err)
	}
	out, errs := ka("approve", img.Hash, tool)
	if !strings.HasPrefix(out, "Approved ") {
		t.Errorf("stdout %q, want the Approved line", out)
	}
	if strings.Contains(errs, "may use nothing") || !strings.Contains(errs, "keeps its permissions (read: prod;") {
		t.Errorf("stderr %q, want a warning that the permissions (read: prod) stay", errs)
	}
}
