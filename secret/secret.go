// Package secret holds the one type that carries secret values through the
// program. Its formatting and logging methods never print the value, so a
// secret that strays into a log line, an error or a panic shows as REDACTED.
// It does not encrypt anything or keep the value out of memory.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what every formatting path prints instead of a value.
const Redacted = "REDACTED"

// Value is a secret. Use Reveal at the one place that must see the bytes
// (the store, the wire encoder); everything else sees REDACTED.
type Value string

// New wraps a plaintext secret.
func New(s string) Value { return Value(s) }

// Reveal returns the plaintext. Call it only where the value must leave.
func (v Value) Reveal() string { return string(v) }

// Len is the length of the secret in bytes.
func (v Value) Len() int { return len(v) }

// String implements fmt.Stringer.
func (Value) String() string { return Redacted }

// GoString implements fmt.GoStringer, used by %#v.
func (Value) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb (%x, %q, %d...) prints the bytes.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON keeps values out of any JSON that is not the wire response,
// which reveals them explicitly.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText is here for encoders that prefer it (slog's JSON handler among them).
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
