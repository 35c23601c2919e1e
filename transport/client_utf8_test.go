package transport

import (
	"errors"
	"strings"
	"testing"

	"github.com/keychain-auth/keychain-auth/secret"
)

// A value that is not UTF-8 cannot travel in a JSON string unchanged:
// encoding/json would replace its bad bytes with U+FFFD. The client refuses
// it instead of sending another value, and the error holds no part of it.
func TestMarshalRequestRefusesInvalidUTF8(t *testing.T) {
	const marker = "MARKER-utf8"
	_, err := marshalRequest(&Request{Action: ActionWrite, Service: "s", Targets: []string{"k"},
		Values: []secret.Value{secret.New(marker + "\xff\xfe")}})
	if !errors.Is(err, ErrValueNotUTF8) {
		t.Fatalf("marshalRequest = %v, want ErrValueNotUTF8", err)
	}
	if strings.Contains(err.Error(), "MARKER") {
		t.Errorf("error holds the value: %v", err)
	}
	line, err := marshalRequest(&Request{Action: ActionWrite, Service: "s", Targets: []string{"k"},
		Values: []secret.Value{secret.New("caf\u00e9")}})
	if err != nil || !strings.Contains(string(line), "caf\u00e9") {
		t.Errorf("valid UTF-8: %q, %v", line, err)
	}
}
