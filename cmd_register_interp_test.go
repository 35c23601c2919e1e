package main

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

func TestReadShebang(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("#! lines are the Unix kernel's; on Windows no script is an identity (docs/windows.md)")
	}
	dir := t.TempDir()
	cases := []struct {
		line     string
		prog     string
		opts     []string
		wantFail bool
	}{
		{"#!/usr/bin/python3 -I\n", "/usr/bin/python3", []string{"-I"}, false},
		{"#!/bin/sh\n", "/bin/sh", []string{}, false},
		{"#! /bin/bash -e -u  \n", "/bin/bash", []string{"-e -u"}, false}, // the kernel passes one argument
		{"#!/usr/bin/env -S sh -e\n", "", []string{"-e"}, false},
		{"#!/usr/bin/env python3 -I\n", "", nil, true}, // env cannot run "python3 -I"
		{"#!python3\n", "", nil, true},
		{"echo no shebang\n", "", nil, false},
	}
	for i, c := range cases {
		p := filepath.Join(dir, "s"+string(rune('a'+i)))
		if err := os.WriteFile(p, []byte(c.line+"true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		prog, opts, err := readShebang(p)
		if (err != nil) != c.wantFail {
			t.Errorf("%q: err %v", c.line, err)
			continue
		}
		if c.prog != "" && prog != c.prog {
			t.Errorf("%q: prog %q, want %q", c.line, prog, c.prog)
		}
		if c.opts != nil && !slices.Equal(opts, c.opts) {
			t.Errorf("%q: options %q, want %q", c.line, opts, c.opts)
		}
		if c.line == "#!/usr/bin/env -S sh -e\n" && filepath.Base(prog) != "sh" {
			t.Errorf("env -S: prog %q, want sh from PATH", prog)
		}
	}
}

func TestCallsByName(t *testing.T) {
	for text, want := range map[string]bool{
		"v=$(keychain-auth get a b)":               true,
		`subprocess.run(["keychain-auth", "get"])`: true,
		"/usr/local/bin/keychain-auth get a b":     false,
		"my-keychain-auth-wrapper":                 false,
		"# see keychain-auth.":                     true,
		"nothing here":                             false,
	} {
		if got := callsByName([]byte(text), "keychain-auth"); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
