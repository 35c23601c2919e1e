package transport

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseRun(t *testing.T) {
	ok := []struct {
		line string
		want RunRequest
	}{
		{`{"type":"RUN","service":"s","targets":["a","b"],"program_fd":"3"}`, RunRequest{Service: "s", Match: MatchExact, Targets: []string{"a", "b"}, ProgramFD: 3}},
		{`{"program_fd":"0","match":"prefix","targets":[""],"service":"s","type":"RUN"}`, RunRequest{Service: "s", Match: MatchPrefix, Targets: []string{""}, ProgramFD: 0}},
		{`{"type":"RUN","service":"s","targets":["a"]}`, RunRequest{Service: "s", Match: MatchExact, Targets: []string{"a"}, ProgramFD: -1}},
	}
	for _, c := range ok {
		got, err := ParseRun([]byte(c.line), Limits{})
		if err != nil || got == nil || !reflect.DeepEqual(*got, c.want) {
			t.Errorf("ParseRun(%s) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
	// Not RUN messages: left to ParseMessage, even when "RUN" appears.
	for _, line := range []string{
		`{"type":"REQUEST","action":"read","service":"s","targets":["RUN"]}`,
		`{"action":"read","targets":["RUN"],"attributes":{"x":"RUN"},"values":null,"type":"REQUEST","service":"s"}`,
		`{"type":"STATUS"}`,
		`not json "RUN"`,
	} {
		if got, err := ParseRun([]byte(line), Limits{}); got != nil || err != nil {
			t.Errorf("ParseRun(%s) = %+v, %v; want nil, nil", line, got, err)
		}
	}
	bad := []string{
		`{"type":"RUN","service":"s","targets":["a"],"action":"delete"}`, // a REQUEST key
		`{"type":"RUN","service":"s","targets":["a"],"TYPE":"RUN"}`,
		`{"type":"RUN","service":"s","targets":["a"],"targets":["b"]}`,
		`{"type":"RUN","service":"","targets":["a"]}`,
		`{"type":"RUN","service":"s","targets":[]}`,
		`{"type":"RUN","service":"s","targets":["a","a"]}`,
		`{"type":"RUN","service":"s","targets":["a"],"match":"glob"}`,
		`{"type":"RUN","service":"s","targets":["a"],"program_fd":"-1"}`,
		`{"type":"RUN","service":"s","targets":["a"],"program_fd":"03"}`,
		`{"type":"RUN","service":"s","targets":["a"],"program_fd":"x"}`,
		`{"type":"RUN","service":"s","targets":["a"],"program_fd":"99999999"}`,
		`{"type":"RUN","service":"s","targets":["a"]} x`,
	}
	for _, line := range bad {
		got, err := ParseRun([]byte(line), Limits{})
		if got != nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRun(%s) = %+v, %v; want ErrMalformed", line, got, err)
		}
	}
}

// A RUN line is never taken as a request by the ordinary decoder either.
func TestParseMessageRefusesRun(t *testing.T) {
	if _, err := ParseMessage([]byte(`{"type":"RUN","service":"s","targets":["a"]}`), Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseMessage(RUN) err = %v, want ErrMalformed", err)
	}
}
