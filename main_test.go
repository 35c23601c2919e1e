package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
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
