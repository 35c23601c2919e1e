package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keychain-auth/keychain-auth/secret"
)

func readAll(t *testing.T, lr *LineReader) ([]string, error) {
	t.Helper()
	var lines []string
	for {
		l, err := lr.ReadLine()
		if err != nil {
			return lines, err
		}
		lines = append(lines, string(l))
	}
}

func TestReadLineSplits(t *testing.T) {
	long := strings.Repeat("x", 3*readBufSize+17) // spans several buffer refills
	in := "a\n\n" + long + "\nlast\n"
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
		"half":     iotest.HalfReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := readAll(t, NewLineReader(r, len(long)))
			if !errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("end: got %v, want io.EOF", err)
			}
			want := []string{"a", "", long, "last"}
			if len(got) != len(want) {
				t.Fatalf("got %d lines, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("line %d: got %d bytes, want %d", i, len(got[i]), len(want[i]))
				}
			}
		})
	}
}

func TestReadLineLimit(t *testing.T) {
	const max = 100
	// Exactly max bytes is fine, max+1 is not, whether the newline is in
	// the same read or not.
	lr := NewLineReader(strings.NewReader(strings.Repeat("y", max)+"\n"), max)
	if l, err := lr.ReadLine(); err != nil || len(l) != max {
		t.Fatalf("line of max bytes: got %d bytes, %v", len(l), err)
	}
	lr = NewLineReader(strings.NewReader(strings.Repeat("y", max+1)+"\n"), max)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("line of max+1 bytes: got %v, want ErrLineTooLong", err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("after a too-long line: got %v, want ErrLineTooLong again", err)
	}
}

// endless is a reader that never sends a newline and counts what was read.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	e.n += len(p)
	return len(p), nil
}

func TestReadLineTooLongIsBounded(t *testing.T) {
	src := &endless{}
	lr := NewLineReader(src, 1<<20)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("got %v, want ErrLineTooLong", err)
	}
	if src.n > 1<<20+2*readBufSize {
		t.Errorf("read %d bytes before giving up, want about the limit", src.n)
	}
}

func TestReadLineEOF(t *testing.T) {
	lr := NewLineReader(strings.NewReader(`{"type":"REQ`), 0)
	if _, err := lr.ReadLine(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("EOF mid-line: got %v, want io.ErrUnexpectedEOF", err)
	}
	lr = NewLineReader(strings.NewReader(""), 0)
	if _, err := lr.ReadLine(); err != io.EOF {
		t.Errorf("EOF between lines: got %v, want io.EOF", err)
	}
}

func TestReadLinePassesErrors(t *testing.T) {
	boom := errors.New("boom")
	lr := NewLineReader(io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom)), 0)
	if _, err := lr.ReadLine(); !errors.Is(err, boom) {
		t.Errorf("got %v, want the reader's error", err)
	}
}

// countingWriter records each Write call.
type countingWriter struct {
	calls int
	buf   bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.buf.Write(p)
}

func TestWriteMessageOneWrite(t *testing.T) {
	resp := &Response{Type: TypeResponse, Status: StatusSuccess, Results: []Result{
		{Target: "k", Value: secret.New("v\t\n"), HasValue: true, Attributes: map[string]string{"a": "b"}},
		{Target: "listed"},
	}}
	w := &countingWriter{}
	if err := WriteMessage(w, resp); err != nil {
		t.Fatal(err)
	}
	if w.calls != 1 {
		t.Errorf("%d Write calls, want 1", w.calls)
	}
	want := `{"type":"RESPONSE","status":"success","results":[{"target":"k","value":"v\t\n","attributes":{"a":"b"}},{"target":"listed"}]}` + "\n"
	if got := w.buf.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }

func TestWriteMessageShortWrite(t *testing.T) {
	if err := WriteMessage(shortWriter{}, &Response{}); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("got %v, want io.ErrShortWrite", err)
	}
}

func TestResponseShapes(t *testing.T) {
	cases := []struct {
		resp Response
		want string
	}{
		{Response{Type: TypeResponse, Status: StatusSuccess}, `{"type":"RESPONSE","status":"success"}`},
		{Response{Type: TypeResponse, Status: StatusSuccess, Results: []Result{}}, `{"type":"RESPONSE","status":"success","results":[]}`},
		{Response{Type: TypeResponse, Status: StatusDenied, Reason: ReasonServiceNotAllowed}, `{"type":"RESPONSE","status":"denied","reason":"service_not_allowed"}`},
		{Response{Type: TypeResponse, Status: StatusSuccess, Results: []Result{{Target: "k", HasValue: true}}}, `{"type":"RESPONSE","status":"success","results":[{"target":"k","value":""}]}`},
		// A value without HasValue (a search result) is never revealed.
		{Response{Type: TypeResponse, Status: StatusSuccess, Results: []Result{{Target: "k", Value: "hidden"}}}, `{"type":"RESPONSE","status":"success","results":[{"target":"k"}]}`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.resp)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("got  %s\nwant %s", b, tc.want)
		}
		var back Response
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if len(back.Results) != len(tc.resp.Results) {
			t.Errorf("round trip of %s lost results", b)
		}
		for i, r := range back.Results {
			want := tc.resp.Results[i]
			if !want.HasValue {
				want.Value = ""
			}
			if r.Target != want.Target || r.HasValue != want.HasValue || r.Value.Reveal() != want.Value.Reveal() {
				t.Errorf("result %d: got %+v, want %+v", i, r, want)
			}
		}
	}
}

func TestRequestPrintsRedacted(t *testing.T) {
	req := &Request{Type: TypeRequest, Action: ActionWrite, Service: "s", Targets: []string{"k"}, Values: []secret.Value{"MARKER-value"}}
	b, _ := json.Marshal(req)
	if bytes.Contains(b, []byte("MARKER")) {
		t.Errorf("json.Marshal(Request) revealed a value: %s", b)
	}
}

func BenchmarkReadLine(b *testing.B) {
	line := []byte(`{"type":"REQUEST","action":"read","service":"svc","targets":["key-one","key-two"]}` + "\n")
	data := bytes.Repeat(line, 1024)
	r := bytes.NewReader(data)
	lr := NewLineReader(r, DefaultMaxLine)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lr.ReadLine(); err != nil {
			r.Reset(data)
			lr = NewLineReader(r, DefaultMaxLine)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	line := []byte(`{"type":"REQUEST","action":"write","service":"svc","targets":["key-one","key-two"],"values":["v1","v\n2"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(line, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteMessage(b *testing.B) {
	resp := &Response{Type: TypeResponse, Status: StatusSuccess, Results: []Result{{Target: "k", Value: "v", HasValue: true}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteMessage(io.Discard, resp); err != nil {
			b.Fatal(err)
		}
	}
}
