package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const marker = "canary-7f3a-do-not-print"

func TestValueNeverFormats(t *testing.T) {
	v := New(marker)
	type wrapper struct {
		Name  string
		Value Value
	}
	w := wrapper{"k", v}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, arg := range []any{v, w, &w, []Value{v}} {
			if got := fmt.Sprintf(verb, arg); strings.Contains(got, marker) {
				t.Errorf("Sprintf(%q, %T) = %q, leaks the value", verb, arg, got)
			}
		}
	}
	if got := fmt.Sprint(v); got != Redacted {
		t.Errorf("Sprint = %q, want %q", got, Redacted)
	}
	js, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(js, []byte(marker)) {
		t.Errorf("json.Marshal leaks: %s", js)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("x", "secret", v, "w", w)
	}
	if strings.Contains(buf.String(), marker) {
		t.Errorf("slog leaks: %s", buf.String())
	}
	if v.Reveal() != marker || v.Len() != len(marker) {
		t.Errorf("Reveal/Len do not return the value")
	}
}
