// The system-mode installer is for Linux (cmd_install_linux.go); its unit
// rendering and path checks are tested where their Unix paths mean something.

//go:build !windows

package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderUnit(t *testing.T) {
	got, err := renderUnit(systemUnitTemplate, "/opt/ka/bin/keychain-auth", "kca-svc")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nExecStart=/opt/ka/bin/keychain-auth serve --system\n",
		"\nUser=kca-svc\n", "\nGroup=kca-svc\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered unit lacks %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(got, "/usr/local/bin/keychain-auth") || strings.Contains(got, "User=keychain-auth") {
		t.Errorf("rendered unit still has the template's values")
	}
	// Only the three lines change.
	if n, m := strings.Count(got, "\n"), strings.Count(systemUnitTemplate, "\n"); n != m {
		t.Errorf("rendered unit has %d lines, template %d", n, m)
	}
}

// systemd gives meaning to spaces, quotes, '%', '$' and '\' in ExecStart=;
// a path with any of them is refused rather than escaped.
func TestRenderUnitRefusesOddPaths(t *testing.T) {
	for _, exe := range []string{
		"keychain-auth", "./keychain-auth", "/opt/my bin/keychain-auth", "/opt/%h/keychain-auth",
		"/opt/$HOME/keychain-auth", `/opt/a\x20b/keychain-auth`, "/opt/\"q\"/keychain-auth", "/opt/a\nUser=root/ka",
	} {
		if _, err := renderUnit(systemUnitTemplate, exe, "keychain-auth"); err == nil {
			t.Errorf("renderUnit(%q) accepted", exe)
		}
	}
	for _, user := range []string{"", "root user", "a%b", "x\nUser=root"} {
		if _, err := renderUnit(systemUnitTemplate, "/usr/bin/keychain-auth", user); err == nil {
			t.Errorf("renderUnit with user %q accepted", user)
		}
	}
	if _, err := renderUnit("[Service]\nUser=a\nGroup=a\n", "/usr/bin/keychain-auth", "a"); err == nil {
		t.Error("a template without ExecStart= was accepted")
	}
}

// The daemon refuses callers outside its mount, pid and user namespaces, so
// the unit must not give it any of its own (packaging/README.md).
func TestSystemUnitKeepsHostNamespaces(t *testing.T) {
	set := map[string]string{}
	for _, line := range strings.Split(systemUnitTemplate, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = v
		}
	}
	for _, key := range []string{
		"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateIPC", "PrivateUsers", "PrivatePIDs",
		"ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
		"ProtectProc", "ProcSubset", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths",
		"NoExecPaths", "TemporaryFileSystem", "BindPaths", "BindReadOnlyPaths", "RootDirectory", "RootImage",
		"MountFlags", "DynamicUser", "MountAPIVFS",
	} {
		if v, ok := set[key]; ok {
			t.Errorf("unit sets %s=%s: it implies a namespace of the daemon's own", key, v)
		}
	}
	// systemd 254+ gives a PrivateNetwork= service its own mount namespace
	// unless PrivateMounts=no is explicit.
	if set["PrivateNetwork"] == "yes" && set["PrivateMounts"] != "no" {
		t.Error("PrivateNetwork=yes without PrivateMounts=no")
	}
	for key, want := range map[string]string{
		"CapabilityBoundingSet": "CAP_SYS_PTRACE CAP_DAC_READ_SEARCH",
		"AmbientCapabilities":   "CAP_SYS_PTRACE CAP_DAC_READ_SEARCH",
		"NoNewPrivileges":       "yes", "UMask": "0077", "LimitCORE": "0",
		"RuntimeDirectory": "keychain-auth", "RuntimeDirectoryMode": "0755",
		"StateDirectory": "keychain-auth", "StateDirectoryMode": "0700",
		"RestrictAddressFamilies": "AF_UNIX",
	} {
		if set[key] != want {
			t.Errorf("%s=%q, want %q", key, set[key], want)
		}
	}
}

// fakeTree is a stat function over a made-up file system.
type fakeEntry struct {
	uid, mode uint32
	symlink   bool
}

func fakeStat(tree map[string]fakeEntry) func(string) (uint32, uint32, bool, error) {
	return func(p string) (uint32, uint32, bool, error) {
		e, ok := tree[p]
		if !ok {
			return 0, 0, false, fmt.Errorf("%s: no such file", p)
		}
		return e.uid, e.mode, e.symlink, nil
	}
}

func TestCheckTrustedPath(t *testing.T) {
	good := map[string]fakeEntry{
		"/": {0, 0o755, false}, "/usr": {0, 0o755, false}, "/usr/local": {0, 0o755, false},
		"/usr/local/bin": {0, 0o755, false}, "/usr/local/bin/keychain-auth": {0, 0o755, false},
	}
	exe := "/usr/local/bin/keychain-auth"
	if err := checkTrustedPath(exe, fakeStat(good)); err != nil {
		t.Fatalf("root-owned path refused: %v", err)
	}
	for _, c := range []struct {
		name, path string
		entry      fakeEntry
		want       string
	}{
		{"binary owned by a user", exe, fakeEntry{1000, 0o755, false}, "owned by uid 1000"},
		{"binary group-writable", exe, fakeEntry{0, 0o775, false}, "writable by group or others"},
		{"directory owned by a user", "/usr/local/bin", fakeEntry{1000, 0o755, false}, "/usr/local/bin is owned by uid 1000"},
		{"directory world-writable", "/usr/local", fakeEntry{0, 0o777, false}, "/usr/local is writable"},
		{"sticky /tmp-like directory", "/usr", fakeEntry{0, 0o1777, false}, "/usr is writable"},
		{"symlink on the way", "/usr/local", fakeEntry{0, 0o777, true}, "symlink"},
	} {
		tree := map[string]fakeEntry{}
		for k, v := range good {
			tree[k] = v
		}
		tree[c.path] = c.entry
		err := checkTrustedPath(exe, fakeStat(tree))
		if err == nil || !errors.Is(err, errUntrustedPath) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an untrusted-path error with %q", c.name, err, c.want)
		}
	}
	if err := checkTrustedPath("keychain-auth", fakeStat(good)); err == nil {
		t.Error("relative path accepted")
	}
}

func TestSystemPlanUnitDir(t *testing.T) {
	p := systemPlan()
	// Root is PREFIX/etc/keychain-auth, the unit PREFIX/etc/systemd/system.
	if got, want := p.unitDir, filepath.Join(filepath.Dir(p.layout.Root), "systemd", "system"); got != want {
		t.Errorf("unitDir %s, want %s", got, want)
	}
	if !strings.HasSuffix(p.unitPath(), filepath.FromSlash("/etc/systemd/system/keychain-auth.service")) {
		t.Errorf("unit path %s", p.unitPath())
	}
}

func TestInstallNeedsSystemFlag(t *testing.T) {
	for _, args := range [][]string{{"install"}, {"uninstall"}, {"install", "--system", "extra"}} {
		var out, errb strings.Builder
		if code := run(append([]string{"keychain-auth"}, args...), strings.NewReader(""), &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage); stderr %q", args, code, exitUsage, errb.String())
		}
	}
}
