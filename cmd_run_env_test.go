package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	const file = `# a comment
  # an indented comment

TOKEN=ka://github/token
DB= ka://app/db/*  
ALL=ka://app/*
PLAIN=not a reference = kept as written
EMPTY=
`
	refs, err := parseEnvFile("f.env", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		name, service, target string
		prefix                bool
		literal               string
	}
	var got []short
	for _, r := range refs {
		s := short{name: r.name, service: r.service, target: r.target, prefix: r.prefix}
		if r.literal != nil {
			s.literal = "=" + *r.literal
		}
		got = append(got, s)
	}
	want := []short{
		{name: "TOKEN", service: "github", target: "token"},
		{name: "DB", service: "app", target: "db/", prefix: true},
		{name: "ALL", service: "app", target: "", prefix: true},
		{name: "PLAIN", literal: "=not a reference = kept as written"},
		{name: "EMPTY", literal: "="},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}
}

// A bad line is refused with its file and line number, and the message
// never repeats what the line held after the name.
func TestParseEnvFileErrors(t *testing.T) {
	const secretish = "s3cr3t-marker"
	cases := []struct{ file, where string }{
		{"OK=x\nno equals sign " + secretish + "\n", "f.env:2"},
		{"\n\n1BAD=" + secretish + "\n", "f.env:3"},
		{"BAD-NAME=" + secretish + "\n", "f.env:1"},
		{"REF=ka://" + secretish + "\n", "f.env:1"},
		{"REF=ka:///" + secretish + "\n", "f.env:1"},
		{"REF=ka://svc/\n", "f.env:1"},
	}
	for _, c := range cases {
		_, err := parseEnvFile("f.env", strings.NewReader(c.file))
		var ce *cliError
		if !errors.As(err, &ce) || ce.code != exitUsage {
			t.Errorf("%q: err %v, want a usage error", c.file, err)
			continue
		}
		if !strings.HasPrefix(ce.msg, c.where+":") || strings.Contains(ce.msg, secretish) {
			t.Errorf("%q: message %q, want it to start with %s: and not repeat the value", c.file, ce.msg, c.where)
		}
	}
}

func TestParseEnvFlag(t *testing.T) {
	r, err := parseEnvFlag("A=svc/path/to/key")
	if err != nil || r.service != "svc" || r.target != "path/to/key" || r.prefix {
		t.Errorf("A=svc/path/to/key: %+v, %v", r, err)
	}
	r, err = parseEnvFlag("P=ka://svc/pre*")
	if err != nil || r.service != "svc" || r.target != "pre" || !r.prefix {
		t.Errorf("P=ka://svc/pre*: %+v, %v", r, err)
	}
	for _, bad := range []string{"A", "=svc/k", "A=svc", "A=/k", "A=svc/", "A B=svc/k"} {
		if _, err := parseEnvFlag(bad); err == nil {
			t.Errorf("parseEnvFlag(%q) accepted", bad)
		}
	}
}

func TestPrefixVarName(t *testing.T) {
	for _, c := range []struct{ name, prefix, key, want string }{
		{"DB", "db/", "db/host", "DB_HOST"},
		{"DB", "db/", "db/max-conns", "DB_MAX_CONNS"},
		{"DB", "db/", "db/", "DB"},
		{"X", "", "a.b/c d", "X_A_B_C_D"},
		{"X", "", "ünï", "X__N_"},
	} {
		if got := prefixVarName(c.name, c.prefix, c.key); got != c.want {
			t.Errorf("prefixVarName(%q, %q, %q) = %q, want %q", c.name, c.prefix, c.key, got, c.want)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	lit := "literal"
	refs := []envRef{
		{name: "A", service: "s", target: "k", origin: "--env A"},
		{name: "L", literal: &lit},
		{name: "P", service: "s", target: "p/", prefix: true},
		{name: "HOME", service: "s", target: "k"},
	}
	got := fetched{"s": {"k": "v", "p/x": "1", "p/y-z": "2", "q": "no"}}
	env, err := buildEnv([]string{"HOME=/home/u", "PATH=/bin"}, refs, got)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin", "A=v", "L=literal", "P_X=1", "P_Y_Z=2", "HOME=v"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}
	// A missing exact key is not found (exit 4), named without values.
	_, err = buildEnv(nil, []envRef{{name: "A", service: "s", target: "gone", origin: "--env A"}}, got)
	var ce *cliError
	if !errors.As(err, &ce) || ce.code != exitNotFound || !strings.Contains(ce.msg, "s/gone") {
		t.Errorf("missing key: %v", err)
	}
	// Two keys of one prefix mapping to one name are refused.
	_, err = buildEnv(nil, []envRef{{name: "P", service: "s", target: "", prefix: true}}, fetched{"s": {"a-b": "1", "a_b": "2"}})
	if err == nil || !strings.Contains(err.Error(), "P_A_B") || strings.Contains(err.Error(), "=") {
		t.Errorf("colliding names: %v", err)
	}
	// NUL in a value cannot go into an environment; the value is not shown.
	_, err = buildEnv(nil, refs[:1], fetched{"s": {"k": "x\x00y"}})
	if err == nil || strings.Contains(err.Error(), "x\x00y") {
		t.Errorf("NUL value: %v", err)
	}
}

func TestRunGroups(t *testing.T) {
	refs := []envRef{
		{name: "A", service: "s", target: "k"},
		{name: "B", service: "t", target: "k"},
		{name: "C", service: "s", target: "j"},
		{name: "D", service: "s", target: "k"},
		{name: "P", service: "s", target: "p", prefix: true},
	}
	got := runGroups(refs)
	want := []runGroup{
		{service: "s", match: "exact", targets: []string{"k", "j"}},
		{service: "t", match: "exact", targets: []string{"k"}},
		{service: "s", match: "prefix", targets: []string{"p"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groups = %+v, want %+v", got, want)
	}
}
