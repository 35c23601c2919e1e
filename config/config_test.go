package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testHash(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]*string{"missing": nil, "empty": new(string), "blank": ptr(" \n\t\n")} {
		path := filepath.Join(dir, name+".json")
		if content != nil {
			writeFile(t, path, *content)
		}
		cfg, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.ProtocolVersion != "1" || cfg.RegisteredBinaries == nil || len(cfg.RegisteredBinaries) != 0 {
			t.Errorf("%s: got %+v, want empty config with protocol_version 1", name, cfg)
		}
	}
}

func ptr(s string) *string { return &s }

// fx makes a Unix-style fixture path absolute on this OS (on Windows
// C:\usr\bin\tool), so that fixtures pass the absolute-path check
// everywhere.
func fx(p string) string {
	if runtime.GOOS == "windows" {
		return `C:` + filepath.FromSlash(p)
	}
	return p
}

// js is s as a JSON string; q is s as Go's %q writes it in errors.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func q(s string) string { return fmt.Sprintf("%q", s) }

func TestParseErrors(t *testing.T) {
	entry := func(fields string) string {
		return `{"protocol_version":"1","registered_binaries":[{"path":` + js(fx("/bin/ok")) + `,"hash":"` + testHash('a') + `"},{` + fields + `}]}`
	}
	good := `"path":` + js(fx("/usr/bin/tool")) + `,"hash":"` + testHash('b') + `"`
	tests := []struct{ name, in, want string }{
		{"malformed JSON", `{"protocol_version":"1",`, "unexpected end of JSON input"},
		{"syntax error names the line", "{\n\"protocol_version\": \"1\"\n\"x\": 1}", "line 3: invalid character"},
		{"not an object", `[]`, "cannot unmarshal array"},
		{"null", `null`, "want a JSON object"},
		{"trailing data", `{} {}`, "after top-level value"},
		{"wrong version", `{"protocol_version":"2"}`, `protocol_version "2" is not supported`},
		{"version as number", `{"protocol_version":1}`, "protocol_version: json: cannot unmarshal number"},
		{"entries not a list", `{"registered_binaries":{}}`, "registered_binaries: json: cannot unmarshal object"},
		{"entry null", `{"registered_binaries":[null]}`, "registered_binaries[0]: want a JSON object"},
		{"bad hash", entry(`"path":` + js(fx("/usr/bin/tool")) + `,"hash":"sha256:abc"`), `registered_binaries[1].hash: "sha256:abc" is not sha256:<64 lowercase hex>`},
		{"uppercase hash", entry(`"path":` + js(fx("/usr/bin/tool")) + `,"hash":"` + strings.ToUpper(testHash('b')) + `"`), "registered_binaries[1].hash"},
		{"md5 hash", entry(`"path":` + js(fx("/usr/bin/tool")) + `,"hash":"md5:` + strings.Repeat("a", 32) + `"`), "registered_binaries[1].hash"},
		{"missing hash", entry(`"path":` + js(fx("/usr/bin/tool"))), "registered_binaries[1].hash"},
		{"relative path", entry(`"path":"bin/tool","hash":"` + testHash('b') + `"`), `registered_binaries[1].path: "bin/tool" is not absolute`},
		{"unclean path", entry(`"path":` + js(fx("/usr/bin/../bin/tool")) + `,"hash":"` + testHash('b') + `"`), "registered_binaries[1].path: " + q(fx("/usr/bin/../bin/tool")) + " is not clean"},
		{"missing path", entry(`"hash":"` + testHash('b') + `"`), "registered_binaries[1].path: missing"},
		{"path with wrong case key", entry(`"Path":"/usr/bin/tool","hash":"` + testHash('b') + `"`), "registered_binaries[1].path: missing"},
		{"duplicate path", entry(`"path":` + js(fx("/bin/ok")) + `,"hash":"` + testHash('c') + `"`), "registered_binaries[1].path: " + q(fx("/bin/ok")) + " is already registered by registered_binaries[0]"},
		{"duplicate key", entry(good + `,"path":` + js(fx("/usr/bin/other"))), `duplicate key "path"`},
		{"duplicate key at top", `{"protocol_version":"1","protocol_version":"1"}`, `duplicate key "protocol_version"`},
		{"empty service", entry(good + `,"allowed_read_services":["a",""]`), "registered_binaries[1].allowed_read_services[1]: empty name"},
		{"service not a string", entry(good + `,"allowed_write_services":[1]`), "registered_binaries[1]: allowed_write_services: json: cannot unmarshal number"},
		{"can_search not a bool", entry(good + `,"can_search":"yes"`), "can_search: json: cannot unmarshal string"},
		{"empty allow_env name", entry(good + `,"allow_env":[""]`), "allow_env[0]: empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, `{"registered_binaries":[{"path":"x","hash":"y"}]}`)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "registered_binaries[0].path") {
		t.Fatalf("err = %v, want the file and the entry named", err)
	}
}

// TestUnknownFieldsSurvive loads a file with fields this version does not
// know, changes it through Update, and checks every unknown field is
// still there with its value.
func TestUnknownFieldsSurvive(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, `{
	  "protocol_version": "1",
	  "future_top": {"nested": [1, 2, {"x": null}]},
	  "registered_binaries": [
	    {"path": `+js(fx("/usr/bin/a"))+`, "hash": "`+testHash('a')+`", "registered_at": "2024-01-01T00:00:00Z",
	     "allowed_read_services": ["a"], "allowed_write_services": [], "can_search": false,
	     "note": "hand-written <&>", "expires": 17},
	    {"path": `+js(fx("/usr/bin/b"))+`, "hash": "`+testHash('b')+`"}
	  ],
	  "zz_last": true
	}`)
	err := Update(path, func(c *Config) error {
		_, e := c.Find(fx("/usr/bin/a"))
		e.GrantRead("extra")
		e.GrantWrite("a")
		c.RegisteredBinaries = append(c.RegisteredBinaries, NewEntry(fx("/usr/bin/c"), testHash('c'), time.Unix(0, 0)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["future_top"], map[string]any{"nested": []any{1.0, 2.0, map[string]any{"x": nil}}}) || got["zz_last"] != true {
		t.Errorf("top-level unknown fields lost: %s", data)
	}
	entries := got["registered_binaries"].([]any)
	a := entries[0].(map[string]any)
	if a["note"] != "hand-written <&>" || a["expires"] != 17.0 {
		t.Errorf("entry unknown fields lost: %v", a)
	}
	if !reflect.DeepEqual(a["allowed_read_services"], []any{"a", "extra"}) || !reflect.DeepEqual(a["allowed_write_services"], []any{"a"}) {
		t.Errorf("grants not applied: %v", a)
	}
	if !strings.Contains(string(data), "<&>") {
		t.Errorf("HTML-escaped output: %s", data)
	}
	b := entries[1].(map[string]any)
	for _, k := range []string{"allowed_read_services", "allowed_write_services"} {
		if l, ok := b[k].([]any); !ok || len(l) != 0 {
			t.Errorf("entry b %s = %#v, want []", k, b[k])
		}
	}
	if _, ok := b["allow_env"]; ok {
		t.Errorf("empty allow_env written: %v", b)
	}
	c := entries[2].(map[string]any)
	if c["registered_at"] != "1970-01-01T00:00:00Z" || c["can_search"] != false {
		t.Errorf("new entry = %v", c)
	}
}

func TestEncodeOrderAndLists(t *testing.T) {
	cfg := Empty()
	cfg.RegisteredBinaries = append(cfg.RegisteredBinaries, Entry{Path: fx("/x"), Hash: testHash('1'), AllowEnv: []string{"LD_PRELOAD"}})
	data, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	order := []string{`"protocol_version"`, `"registered_binaries"`, `"path"`, `"hash"`, `"registered_at"`, `"allowed_read_services": []`, `"allowed_write_services": []`, `"can_search": false`, `"allow_env": [`}
	last := -1
	for _, k := range order {
		i := strings.Index(s, k)
		if i < 0 || i < last {
			t.Fatalf("%s missing or out of order in\n%s", k, s)
		}
		last = i
	}
	if strings.Contains(s, "null") || !strings.HasSuffix(s, "}\n") {
		t.Errorf("encoded:\n%s", s)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.RegisteredBinaries[0].AllowEnv, []string{"LD_PRELOAD"}) {
		t.Errorf("allow_env round trip = %v", back.RegisteredBinaries[0].AllowEnv)
	}
}

func TestUpdate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "keychain-auth")
	path := filepath.Join(dir, ConfigFile)
	add := func(p, h string) error {
		return Update(path, func(c *Config) error {
			c.RegisteredBinaries = append(c.RegisteredBinaries, NewEntry(p, h, time.Now()))
			return nil
		})
	}
	if err := add(fx("/usr/bin/a"), testHash('a')); err != nil {
		t.Fatal(err)
	}
	checkMode(t, dir, 0o700)
	checkMode(t, path, 0o600)
	// An invalid result is refused and the file is left as it was.
	before, _ := os.ReadFile(path)
	if err := add("relative", testHash('b')); err == nil || !strings.Contains(err.Error(), "registered_binaries[1].path") {
		t.Fatalf("invalid update: %v", err)
	}
	if err := add(fx("/usr/bin/a"), testHash('b')); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate path: %v", err)
	}
	// fn's own error comes back as is and nothing is written.
	sentinel := errors.New("changed my mind")
	err := Update(path, func(c *Config) error { c.RegisteredBinaries = nil; return sentinel })
	if err != sentinel {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatalf("file changed by refused updates:\n%s\n%s", before, after)
	}
	// A broken file is never overwritten.
	writeFile(t, path, `{"registered_binaries":[`)
	if err := add(fx("/usr/bin/c"), testHash('c')); err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("update of a broken file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != `{"registered_binaries":[` {
		t.Fatalf("broken file overwritten: %s", data)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestModeNarrowedOnWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	writeFile(t, path, `{}`)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Update(path, func(*Config) error { return nil }); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path, 0o600)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %o, want %o", path, got, want)
	}
}

func TestEntryHelpers(t *testing.T) {
	cfg := Empty()
	cfg.RegisteredBinaries = []Entry{NewEntry(fx("/a"), testHash('a'), time.Now()), NewEntry(fx("/b"), testHash('b'), time.Now())}
	i, e := cfg.Find(fx("/b"))
	if i != 1 || e != &cfg.RegisteredBinaries[1] {
		t.Fatalf("Find(/b) = %d, %p", i, e)
	}
	if i, e := cfg.Find(fx("/B")); i != -1 || e != nil {
		t.Fatalf("Find is not exact: %d %v", i, e)
	}
	e.GrantRead("x", "y", "x")
	e.GrantRead("y", "z")
	e.GrantWrite("x")
	if !reflect.DeepEqual(e.AllowedReadServices, []string{"x", "y", "z"}) {
		t.Errorf("read = %v", e.AllowedReadServices)
	}
	shared := e.AllowedReadServices
	e.RevokeRead("y", "nope")
	if !reflect.DeepEqual(e.AllowedReadServices, []string{"x", "z"}) || !reflect.DeepEqual(shared, []string{"x", "y", "z"}) {
		t.Errorf("revoke: now %v, earlier slice %v (must be untouched)", e.AllowedReadServices, shared)
	}
	if !e.CanRead("x") || e.CanRead("y") || !e.CanWrite("x") || e.CanWrite("z") {
		t.Errorf("Can* wrong for %+v", e)
	}
	e.RevokeWrite("x")
	if e.AllowedWriteServices == nil || len(e.AllowedWriteServices) != 0 {
		t.Errorf("write after revoke = %#v, want []", e.AllowedWriteServices)
	}
	if !cfg.Remove(fx("/a")) || cfg.Remove(fx("/a")) || len(cfg.RegisteredBinaries) != 1 {
		t.Errorf("Remove: %+v", cfg.RegisteredBinaries)
	}
}

func TestHashes(t *testing.T) {
	h := testHash('a')
	for in, want := range map[string]string{
		h:                                     h,
		strings.Repeat("a", 64):               h,
		strings.ToUpper(h):                    h,
		"  " + strings.Repeat("A", 64) + "\n": h,
	} {
		got, err := NormalizeHash(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHash(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "sha256:", strings.Repeat("a", 63), strings.Repeat("g", 64), "sha1:" + strings.Repeat("a", 64), h + "0"} {
		if _, err := NormalizeHash(in); err == nil {
			t.Errorf("NormalizeHash(%q) succeeded", in)
		}
	}
	if ValidHash(strings.ToUpper(h)) || ValidHash(strings.Repeat("a", 64)) || !ValidHash(h) {
		t.Error("ValidHash accepts only sha256:<64 lowercase hex>")
	}
}
