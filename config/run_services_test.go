package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// allowed_run_services: round trip, omitted when empty, known to doctor,
// and an empty name refused like the other lists.
func TestRunServicesField(t *testing.T) {
	cfg := Empty()
	cfg.RegisteredBinaries = append(cfg.RegisteredBinaries, Entry{Path: fx("/x"), Hash: testHash('1')})
	data, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "allowed_run_services") {
		t.Errorf("an entry without run services writes the field:\n%s", data)
	}
	e := &cfg.RegisteredBinaries[0]
	e.GrantRun("a", "b", "a")
	if !e.CanRun("a") || !e.CanRun("b") || e.CanRun("c") || e.CanRead("a") {
		t.Errorf("after GrantRun(a, b): run %v, read %v", e.AllowedRunServices, e.AllowedReadServices)
	}
	if data, err = cfg.Encode(); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.RegisteredBinaries[0].AllowedRunServices; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("round trip = %v, want [a b]", got)
	}
	if u := back.UnknownFields(); len(u) != 0 {
		t.Errorf("allowed_run_services reported unknown: %v", u)
	}
	if _, entry := KnownFields(); !slices.Contains(entry, "allowed_run_services") {
		t.Errorf("KnownFields entry = %q", entry)
	}
	e.RevokeRun("a", "b")
	if e.AllowedRunServices != nil {
		t.Errorf("after revoking all: %v, want nil (field omitted)", e.AllowedRunServices)
	}
	bad := strings.Replace(string(data), `"allowed_run_services": [`, `"allowed_run_services": ["",`, 1)
	if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "allowed_run_services[0]") {
		t.Errorf("empty run service name: err = %v", err)
	}
}
