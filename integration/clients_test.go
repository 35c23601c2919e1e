//go:build linux

package integration

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoFile is a path in the checkout, relative to the repository root.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", rel)
}

// TestReferenceClients runs the copyable Python and Node clients against a
// real daemon: as registered scripts they write, read, search and delete;
// an unregistered copy of the same file is refused and queued.
func TestReferenceClients(t *testing.T) {
	for _, c := range []struct{ interp, file string }{
		{"python3", "clients/python/keychain_auth.py"},
		{"node", "clients/node/keychain-auth.js"},
	} {
		t.Run(c.interp, func(t *testing.T) {
			interp, err := envLookPath(c.interp)
			if err != nil {
				t.Skipf("%s not installed: %v", c.interp, err)
			}
			e := newEnv(t)
			e.start()
			dir := e.projectDir()
			client := filepath.Join(dir, filepath.Base(c.file))
			copyFile(t, repoFile(t, c.file), client, 0o644)
			stranger := filepath.Join(dir, "copy-"+filepath.Base(c.file))
			copyFile(t, repoFile(t, c.file), stranger, 0o644)
			e.mustKA("authorize", client, "svc")

			call := func(stdin string, args ...string) result {
				return e.run(stdin, interp, append([]string{client}, args...)...)
			}
			if r := call(marker, "write", "svc", "db/password"); r.code != 0 {
				t.Fatalf("write: %+v\ndaemon: %s", r, e.daemonLog())
			}
			if r := call("", "read", "svc", "db/password"); r.code != 0 || strings.TrimSuffix(r.stdout, "\n") != marker {
				t.Fatalf("read: %+v", r)
			}
			if r := call("", "search", "svc", "db/"); r.code != 0 || strings.TrimSpace(r.stdout) != "db/password" || strings.Contains(r.stdout, marker) {
				t.Fatalf("search: %+v", r)
			}
			if r := call("", "read", "svc", "missing"); r.code != 4 {
				t.Errorf("read of a missing key: exit %d, want 4", r.code)
			}
			if r := call("", "read", "other", "x"); r.code != 3 {
				t.Errorf("read outside the policy: exit %d, want 3", r.code)
			}
			if r := call("", "delete", "svc", "db/password"); r.code != 0 {
				t.Fatalf("delete: %+v", r)
			}
			if r := call("", "read", "svc", "db/password"); r.code != 4 {
				t.Errorf("read after delete: exit %d, want 4", r.code)
			}
			// The interpreter alone is not the program: an unregistered copy
			// of the same client is refused and queued as that file.
			r := e.run("", interp, stranger, "read", "svc", "db/password")
			if r.code != 5 {
				t.Errorf("unregistered copy: exit %d, want 5 (%s)", r.code, r.stderr)
			}
			if recs := e.pending(); len(recs) != 1 || recs[0].Path != stranger {
				t.Errorf("pending = %+v, want %s", recs, stranger)
			}
			assertNoMarkerOnDisk(t, e)
		})
	}
}
