package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestScriptArg(t *testing.T) {
	cases := []struct {
		interp string
		argv   []string
		want   string // "" means no script
	}{
		{"bash", []string{"bash", "s.sh", "a"}, "s.sh"},
		{"bash", []string{"bash", "-eu", "-o", "pipefail", "s.sh"}, "s.sh"},
		{"bash", []string{"bash", "-o", "history", "s.sh"}, ""},
		{"bash", []string{"bash", "-c", "x", "s.sh"}, ""},
		{"bash", []string{"bash", "-ec", "x", "s.sh"}, ""},
		{"bash", []string{"bash", "--rcfile", "x", "s.sh"}, ""},
		{"bash", []string{"bash", "-l", "s.sh"}, ""},
		{"bash", []string{"bash"}, ""},
		{"bash", []string{"bash", "-s", "s.sh"}, ""},
		{"dash", []string{"sh", "--", "s.sh"}, "s.sh"},
		{"python3.11", []string{"python3", "-uB", "-I", "p.py"}, "p.py"},
		{"python3", []string{"python3", "-m", "mod", "p.py"}, ""},
		{"python3", []string{"python3", "-c", "import x", "/r.py"}, ""},
		{"python3", []string{"python3", "-i", "p.py"}, ""},
		{"python3", []string{"python3", "-"}, ""},
		{"python3", []string{"python3", "-X", "dev", "p.py"}, ""},
		{"node", []string{"node", "--no-warnings", "a.js"}, "a.js"},
		{"node", []string{"node", "-r", "x", "a.js"}, ""},
		{"node", []string{"node", "--import=x", "a.js"}, ""},
		{"node", []string{"node", "-e", "1", "a.js"}, ""},
		{"node", []string{"node", "-p", "1"}, ""},
		{"perl", []string{"perl", "-wT", "a.pl"}, "a.pl"},
		{"perl5.36.0", []string{"perl", "-Mx", "a.pl"}, ""},
		{"ruby", []string{"ruby", "-rx", "a.rb"}, ""},
		{"ruby3.1", []string{"ruby", "-w", "a.rb"}, "a.rb"},
	}
	for _, c := range cases {
		in := lookupInterpreter(c.interp)
		if in == nil {
			t.Fatalf("%s not in the table", c.interp)
		}
		got, ok := in.scriptArg(c.argv)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s %q: got %q %v, want %q", c.interp, c.argv, got, ok, c.want)
		}
	}
	for _, c := range []struct {
		argv   []string
		unsafe string
	}{
		{[]string{"bash", "-x", "s.sh"}, "-x"},
		{[]string{"bash", "-eux", "s.sh"}, "-eux"},
		{[]string{"bash", "-e", "-o", "xtrace", "s.sh"}, "-o xtrace"},
		{[]string{"sh", "-v", "--", "s.sh"}, "-v"},
		{[]string{"bash", "-eu", "-o", "pipefail", "s.sh"}, ""},
	} {
		got, ok, unsafe := bashInterp.scriptArgOpts(c.argv)
		if got != "s.sh" || !ok || unsafe != c.unsafe {
			t.Errorf("%q: got %q %v %q, want s.sh, unsafe %q", c.argv, got, ok, unsafe, c.unsafe)
		}
	}
	for _, name := range []string{"ls", "python2", "keychain-auth", "bashful"} {
		if lookupInterpreter(name) != nil {
			t.Errorf("%s is not an interpreter", name)
		}
	}
}

func TestInjectedEnvNames(t *testing.T) {
	env := "HOME=/h\x00LD_PRELOAD=/evil.so\x00DYLD_INSERT_LIBRARIES=x\x00PATH=/bin\x00" +
		"NODE_OPTIONS=--require x\x00LD_PRELOAD=/again\x00=odd\x00noequals\x00BASH_ENV=/b\x00"
	got := injectedEnv([]byte(env))
	want := []string{"BASH_ENV", "DYLD_INSERT_LIBRARIES", "LD_PRELOAD", "NODE_OPTIONS"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUnsafeShellVars(t *testing.T) {
	env := "PS4=+ \x00PS1=$ \x00SHELLOPTS=braceexpand:xtrace\x00BASHOPTS=extglob\x00" +
		"BASH_FUNC_ls%%=() { :; }\x00BASH_FUNC_cd()=() { :; }\x00BASH_VERSION=5\x00PATH=/bin\x00"
	_, got := scanEnv([]byte(env))
	want := []string{"BASH_FUNC_cd()", "BASH_FUNC_ls%%", "PS4", "SHELLOPTS"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseStatus(t *testing.T) {
	st, ok := parseStatus([]byte("Name:\tx\nPPid:\t12\nTracerPid:\t7\nUid:\t1000\t1001\t1000\t1000\n"))
	if !ok || st.ppid != 12 || st.tracerPID != 7 || st.euid != 1001 {
		t.Errorf("got %+v %v", st, ok)
	}
	if _, ok := parseStatus([]byte("Name:\tx\nPPid:\t12\n")); ok {
		t.Error("incomplete status accepted")
	}
}

func TestHashFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "tool")
	content := []byte("#!/bin/sh\necho hi\n")
	if err := os.WriteFile(real, content, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("tool", link); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	img, err := HashFile(link)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	wantPath, _ := filepath.EvalSymlinks(real)
	if img.Path != wantPath || img.Hash != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("got %+v, want %s sha256:%x", img, wantPath, sum)
	}
	if _, err := HashFile(dir); err == nil {
		t.Error("a directory was hashed")
	}
}

func TestInjectedEnvLoaders(t *testing.T) {
	env := "LD_PRELOAD=\x00OPENSSL_CONF=/a\x00OPENSSL_MODULES=/b\x00GIO_EXTRA_MODULES=/c\x00PYTHONPATH=\x00" +
		"GOPATH=/go\x00PYTHONUNBUFFERED=1\x00LD_BIND_NOW=1\x00NODE_ENV=dev\x00SSL_CERT_FILE=/x\x00"
	got := injectedEnv([]byte(env))
	want := []string{"GIO_EXTRA_MODULES", "OPENSSL_CONF", "OPENSSL_MODULES"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q (empty values and development variables load nothing)", got, want)
	}
}
