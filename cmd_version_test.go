package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFlagAndCommandPrintOneSameLine(t *testing.T) {
	var lines []string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"keychain-auth"}, args...), strings.NewReader(""), &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		lines = append(lines, out.String())
	}
	want := "keychain-auth " + version + "\n"
	for i, got := range lines {
		if got != want {
			t.Errorf("output %d = %q, want %q", i, got, want)
		}
	}
}

func TestResolveVersion(t *testing.T) {
	info := func(v string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/keychain-auth/keychain-auth", Version: v}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	rev := "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		name, stamped string
		bi            func() (*debug.BuildInfo, bool)
		want          string
	}{
		{"release build", "1.4.0", info("(devel)", "vcs.revision", rev), "1.4.0"},
		{"go install of a tag", "dev", info("v1.4.0"), "v1.4.0"},
		{"checkout", "dev", info("v1.4.1-0.20261202032700-0123456789ab", "vcs.revision", rev, "vcs.modified", "false"),
			"v1.4.1-0.20261202032700-0123456789ab (commit 0123456789ab)"},
		{"modified checkout", "dev", info("(devel)", "vcs.revision", rev, "vcs.modified", "true"), "(devel) (commit 0123456789ab, modified)"},
		{"no vcs stamp", "dev", info(""), "(devel)"},
		{"no build info", "dev", none, "(unknown)"},
	}
	for _, c := range cases {
		if got := resolveVersion(c.stamped, c.bi); got != c.want {
			t.Errorf("%s: resolveVersion = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestHelpCommand(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string // in stdout
	}{
		{[]string{"help"}, exitOK, "completion"},
		{[]string{"help", "grant"}, exitOK, "--read"},
		{[]string{"--help"}, exitOK, "COMMANDS"},
		{[]string{"help", "nosuch"}, exitUsage, ""},
		{[]string{"help", "get", "put"}, exitUsage, ""},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(append([]string{"keychain-auth"}, c.args...), strings.NewReader(""), &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: exit %d, stdout %q; want exit %d and %q in stdout (stderr %q)", c.args, code, out.String(), c.code, c.want, errb.String())
		}
		if c.code != exitOK && out.Len() != 0 {
			t.Errorf("%v: usage error wrote %q to stdout", c.args, out.String())
		}
	}
}
