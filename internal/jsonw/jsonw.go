// Package jsonw appends JSON text without reflection, for the two lines the
// daemon writes for every request: the answer and the audit line. Each
// caller writes its own fields in the order and with the rules that
// encoding/json would apply to the same struct; the tests of each caller
// compare its output with encoding/json's, byte for byte, over generated
// and fuzzed values, so that clients, scripts that match on the text, and
// readers of the audit log see no difference.
package jsonw

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string the way encoding/json writes a Go
// string: `"` and `\` escaped; \b, \f, \n, \r and \t as such and other
// control characters as \u00XX; each byte of invalid UTF-8 as \ufffd;
// U+2028 and U+2029 escaped; and, when html is set (json.Marshal; not an
// Encoder with SetEscapeHTML(false)), <, > and & as \u003c, \u003e and
// \u0026.
func String(dst []byte, s string, html bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Key appends `,"name":` (name is a plain field name: letters, digits
// and underscores, written as is).
func Key(dst []byte, name string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// StringMap appends a JSON object of strings with its keys in byte order,
// as encoding/json sorts a map's keys.
func StringMap(dst []byte, m map[string]string, html bool) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, k, html)
		dst = append(dst, ':')
		dst = String(dst, m[k], html)
	}
	return append(dst, '}')
}

// Int appends n in decimal.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Uint appends n in decimal.
func Uint(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

// Strings appends a JSON array of strings.
func Strings(dst []byte, ss []string, html bool) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, s, html)
	}
	return append(dst, ']')
}
