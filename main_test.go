package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keychain-auth/keychain-auth/audit"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(nil, &bytes.Buffer{}, &bytes.Buffer{})
	cases := []struct{ in, want string }{
		{"ka grant /p --read a --write b --search", "ka grant --read a --write b --search /p"},
		{"ka grant --read=a /p", "ka grant --read=a /p"},
		{"ka get svc key", "ka get svc key"},
		{"ka get svc -- -key", "ka get svc -- -key"},
		{"ka audit --json -n 5", "ka audit --json -n 5"},
		{"ka list-pending --json", "ka list-pending --json"},
		{"ka nosuch a --b", "ka nosuch a --b"},
		{"ka", "ka"},
	}
	for _, c := range cases {
		got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	if got := printable("/usr/bin/tool"); got != "/usr/bin/tool" {
		t.Errorf("plain path changed: %q", got)
	}
	forged := "/tmp/x\nPath:      /usr/bin/good"
	if got := printable(forged); strings.Contains(got, "\n") {
		t.Errorf("printable kept a newline: %q", got)
	}
	for _, s := range []string{"a\x1b[2Jb", "a\u009b2Jb", "a\xffb"} {
		got := printable(s)
		if got == s || strings.ContainsAny(got, "\x1b\u009b") || !utf8.ValidString(got) {
			t.Errorf("printable(%q) = %q, want it quoted with no raw control or invalid byte", s, got)
		}
	}
}

// An unregistered caller chooses its key names; the audit command must not
// let one become a second, forged line on the admin's terminal.
func TestAuditLineQuotesCallerFields(t *testing.T) {
	forged := "k\n2026-01-01T00:00:00Z pid=1 /usr/bin/ssh read prod key: success\x1b[31m"
	r := audit.Record{Time: time.Now(), PID: 7, Path: "/tmp/evil\nx", Service: "svc", Action: "read",
		Targets: []string{"ok", forged}, Status: "denied", Reason: "unregistered_binary_pending_approval",
		Courier: &audit.Party{Path: "/bin/keychain-auth\x1b[0m"}}
	line := auditLine(r)
	if strings.ContainsAny(line, "\n\x1b") {
		t.Errorf("auditLine kept a raw newline or escape: %q", line)
	}
	for _, want := range []string{"pid=7", "read svc ok,", ": denied (unregistered_binary_pending_approval)"} {
		if !strings.Contains(line, want) {
			t.Errorf("auditLine = %q, want it to contain %q", line, want)
		}
	}
}

func TestExitCodesAndStreams(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"version"}, exitOK},
		{[]string{"get"}, exitUsage},
		{[]string{"bogus"}, exitUsage},
		{[]string{"grant", "/x"}, exitUsage},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(append([]string{"keychain-auth"}, c.args...), strings.NewReader(""), &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errb.String())
		}
		if c.code == exitUsage && (out.Len() != 0 || !strings.HasPrefix(errb.String(), "keychain-auth: error: ")) {
			t.Errorf("%v: stdout %q stderr %q; usage errors belong on stderr", c.args, out.String(), errb.String())
		}
	}
	// The numbers are a contract with scripts: never renumber them.
	if got := []int{exitOK, exitError, exitUsage, exitDenied, exitNotFound, exitUnregistered, exitNotRunning}; !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("exit codes = %v, want 0..6 in contract order", got)
	}
}
