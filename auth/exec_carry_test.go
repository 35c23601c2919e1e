//go:build linux

package auth

import (
	"testing"
)

// TestExecBetweenRequests: a program identified on a kept connection execs
// another program (a copy of the test binary: another inode) with the
// connection inherited, and the new program sends the next request. The
// stamp carried over from the first request's check refuses it; with the
// exec check switched off (the canary) the second request is identified.
func TestExecBetweenRequests(t *testing.T) {
	other := copyBinary(t, t.TempDir(), "other", "")
	for _, weak := range []bool{true, false} {
		opts := Options{}
		if weak {
			opts = WithWeakening(opts, Weakening{NoExecCheck: true})
		}
		v := newVerifier(t, opts)
		l, sock := listen(t, "")
		startClient(t, sock, client{env: []string{"AUTH_TEST_MSG=one\n", "AUTH_TEST_EXEC_AFTER_REPLY=" + other}})
		p, err := acceptPeer(t, l, v)
		if err != nil {
			t.Fatal(err)
		}
		if line, err := readLine(t, p); err != nil || line != "one" {
			t.Fatalf("first request: %q, %v", line, err)
		}
		if _, err := p.Identify(); err != nil {
			t.Fatalf("first request identified: %v", err)
		}
		if _, err := p.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if line, err := readLine(t, p); err != nil || line != "evil" {
			t.Fatalf("second request: %q, %v", line, err)
		}
		_, err = p.Identify()
		if weak {
			if err != nil {
				t.Fatalf("canary: with the exec check off the exec'd program should be identified, got %v", err)
			}
			continue
		}
		wantReason(t, err, ReasonExecAfterConnect)
	}
}
