package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirs(t *testing.T) {
	home := func() (string, error) { return fx("/home/u"), nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	tests := []struct {
		goos      string
		env       map[string]string
		home      func() (string, error)
		cfg, data string // "" means an error is expected
	}{
		{"linux", nil, home, "/home/u/.config/keychain-auth", "/home/u/.local/share/keychain-auth"},
		{"linux", map[string]string{"XDG_CONFIG_HOME": "/x/c", "XDG_DATA_HOME": "/x/d"}, home, "/x/c/keychain-auth", "/x/d/keychain-auth"},
		{"linux", map[string]string{"XDG_CONFIG_HOME": "rel", "XDG_DATA_HOME": "rel"}, home, "/home/u/.config/keychain-auth", "/home/u/.local/share/keychain-auth"},
		{"linux", map[string]string{EnvConfigDir: "/o/c/", EnvDataDir: "/o/d", "XDG_CONFIG_HOME": "/x/c"}, home, "/o/c", "/o/d"},
		{"linux", map[string]string{EnvConfigDir: "rel", EnvDataDir: "rel"}, home, "", ""},
		{"linux", nil, noHome, "", ""},
		{"darwin", nil, home, "/home/u/.config/keychain-auth", "/home/u/Library/Application Support/keychain-auth"},
		{"darwin", map[string]string{"XDG_CONFIG_HOME": "/x/c", "XDG_DATA_HOME": "/x/d"}, home, "/x/c/keychain-auth", "/home/u/Library/Application Support/keychain-auth"},
	}
	// Fixture paths are made absolute on the host (fx), whose filepath
	// rules the directory functions use.
	abs := func(p string) string {
		if strings.HasPrefix(p, "/") {
			return fx(p)
		}
		return p
	}
	for _, tt := range tests {
		getenv := func(k string) string { return abs(tt.env[k]) }
		c, cerr := configDir(tt.goos, getenv, tt.home)
		d, derr := dataDir(tt.goos, getenv, tt.home)
		if c != abs(tt.cfg) || (cerr == nil) != (tt.cfg != "") {
			t.Errorf("%s %v: configDir = %q, %v; want %q", tt.goos, tt.env, c, cerr, abs(tt.cfg))
		}
		if d != abs(tt.data) || (derr == nil) != (tt.data != "") {
			t.Errorf("%s %v: dataDir = %q, %v; want %q", tt.goos, tt.env, d, derr, abs(tt.data))
		}
	}
}

func TestDirsWindows(t *testing.T) {
	// %APPDATA% and %LOCALAPPDATA%, joined with the host's separator.
	env := map[string]string{"APPDATA": fx("/r"), "LOCALAPPDATA": fx("/l"), "XDG_CONFIG_HOME": fx("/x")}
	getenv := func(k string) string { return env[k] }
	home := func() (string, error) { return fx("/home/u"), nil }
	if c, _ := configDir("windows", getenv, home); c != filepath.Join(fx("/r"), "keychain-auth") {
		t.Errorf("windows config dir = %q", c)
	}
	if d, _ := dataDir("windows", getenv, home); d != filepath.Join(fx("/l"), "keychain-auth") {
		t.Errorf("windows data dir = %q", d)
	}
	if _, err := configDir("windows", func(string) string { return "" }, home); err == nil {
		t.Error("windows without %APPDATA% succeeded")
	}
}

func TestDirUsesEnvironment(t *testing.T) {
	c, d := t.TempDir(), t.TempDir()
	t.Setenv(EnvConfigDir, c)
	t.Setenv(EnvDataDir, d)
	if got, err := Dir(); got != c || err != nil {
		t.Errorf("Dir() = %q, %v", got, err)
	}
	if got, err := DataDir(); got != d || err != nil {
		t.Errorf("DataDir() = %q, %v", got, err)
	}
}

func TestEnsureDir(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "a", "b")
	if err := EnsureDir(path); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path, 0o700)
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(path); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path, 0o700)
	file := filepath.Join(base, "f")
	writeFile(t, file, "")
	if err := EnsureDir(file); err == nil {
		t.Error("EnsureDir on a file succeeded")
	}
}
