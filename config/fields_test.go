package config

import (
	"slices"
	"testing"
)

func TestUnknownFieldsNamesEachLevel(t *testing.T) {
	cfg, err := Parse([]byte(`{"protocol_version":"1","comment":"x","registered_binaries":[
		{"path":` + js(fx("/usr/bin/a")) + `,"hash":"sha256:` + repeat64("a") + `","alowed_read_services":["svc"],"allowed_read_services":[]},
		{"path":` + js(fx("/usr/bin/b")) + `,"hash":"sha256:` + repeat64("b") + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range cfg.UnknownFields() {
		got = append(got, f.String())
	}
	want := []string{"comment", "registered_binaries[0].alowed_read_services"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownFields = %q, want %q", got, want)
	}
	_, entry := KnownFields()
	if !slices.Contains(entry, "allowed_read_services") {
		t.Errorf("KnownFields entry = %q, lacks allowed_read_services", entry)
	}
}

func repeat64(s string) string {
	b := make([]byte, 0, 64)
	for len(b) < 64 {
		b = append(b, s...)
	}
	return string(b)
}
