package main

import (
	"bytes"
	"strings"
	"testing"
)

// Flags before the command move behind it; what urfave/cli must answer
// itself (--help, --version, no command) stays as typed.
func TestReorderArgsFlagsBeforeCommand(t *testing.T) {
	app := newApp(nil, &bytes.Buffer{}, &bytes.Buffer{})
	cases := []struct{ in, want string }{
		{"ka --socket /s status", "ka status --socket /s"},
		{"ka --socket=/s status --json", "ka status --socket=/s --json"},
		{"ka --json --socket /s status", "ka status --json --socket /s"},
		{"ka --socket /s get svc k", "ka get --socket /s svc k"},
		{"ka -n 5 audit", "ka audit -n 5"},
		{"ka --socket /s", "ka --socket /s"},
		{"ka --help status", "ka --help status"},
		{"ka --version", "ka --version"},
		{"ka --socket /s nosuch", "ka --socket /s nosuch"},
		{"ka --socket status", "ka --socket status"}, // status is the flag's value; no command follows
	}
	for _, c := range cases {
		got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
