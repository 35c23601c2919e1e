package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var hex64 = strings.Repeat("ab", 32)

func TestInterpreterRoundTrip(t *testing.T) {
	py := fx("/usr/bin/python3.11") // fx, js: portable fixtures (config_test.go)
	in := `{"protocol_version":"1","registered_binaries":[{"path":` + js(fx("/home/u/bin/tool.py")) + `,"hash":"sha256:` + hex64 + `","registered_at":"2026-12-02T00:00:00Z","allowed_read_services":[],"allowed_write_services":[],"can_search":false,"interpreter":{"path":` + js(py) + `,"options":["-I"]}}]}`
	cfg, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	e := &cfg.RegisteredBinaries[0]
	if e.Interpreter == nil || e.Interpreter.Path != py || len(e.Interpreter.Options) != 1 || e.Interpreter.Options[0] != "-I" || e.Interpreter.Hash != "" {
		t.Fatalf("interpreter = %+v", e.Interpreter)
	}
	if u := cfg.UnknownFields(); len(u) != 0 {
		t.Fatalf("interpreter reported unknown: %v", u)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"interpreter":{"path":`+js(py)+`,"options":["-I"]}`) {
		t.Fatalf("written back as %s", out)
	}
	e.Interpreter.Options = nil
	out, _ = json.Marshal(cfg)
	if !strings.Contains(string(out), `"options":[]`) {
		t.Fatalf("no options must be written as an empty list (a run with none is what is pinned): %s", out)
	}
}

func TestInterpreterInvalid(t *testing.T) {
	for _, bad := range []string{
		`{"path":"python3","options":[]}`,
		`{"path":"/usr/bin/../bin/python3","options":[]}`,
		`{"path":"/usr/bin/python3","hash":"md5:x","options":[]}`,
		`{"path":"/usr/bin/python3","options":[""]}`,
	} {
		in := `{"protocol_version":"1","registered_binaries":[{"path":` + js(fx("/t.py")) + `,"hash":"sha256:` + hex64 + `","interpreter":` + bad + `}]}`
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "interpreter.") {
			t.Errorf("%s: err = %v, want an invalid interpreter field", bad, err)
		}
	}
}
