package transport

import (
	"fmt"
	"unicode/utf8"
)

// scanner is a strict JSON reader for the few shapes a request may take:
// strings, arrays of strings and objects of strings. It exists because
// encoding/json folds key case, lets duplicates win silently, and replaces
// invalid UTF-8 and unpaired surrogates with U+FFFD, any of which could
// change what a request means or corrupt a secret. Errors say where, never
// what: they carry offsets and known field names, no content from the line.
type scanner struct {
	data []byte
	pos  int
	buf  []byte // scratch for strings with escapes
}

func (s *scanner) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// consume skips whitespace, then takes c if it is next.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// next skips whitespace and reports the next byte (0 at the end).
func (s *scanner) next() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// null takes the literal null if it is next. What follows it is checked by
// the caller like after any value (so "nullx" fails there).
func (s *scanner) null() bool {
	s.ws()
	if len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// str reads one string. what names the field for error messages.
func (s *scanner) str(what string) (string, error) {
	if s.next() != '"' {
		return "", s.fail("%s: want a string at offset %d", what, s.pos)
	}
	s.pos++
	start := s.pos
	for i := start; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			return string(s.data[start:i]), nil
		case c == '\\':
			s.buf = append(s.buf[:0], s.data[start:i]...)
			s.pos = i
			return s.strEscaped(what)
		case c < 0x20:
			return "", s.fail("%s: control character in string at offset %d", what, i)
		}
	}
	return "", s.fail("%s: unterminated string", what)
}

// strEscaped finishes a string that contains escapes; s.buf holds what came
// before the first one.
func (s *scanner) strEscaped(what string) (string, error) {
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			out := string(s.buf)
			clear(s.buf) // the scratch may have held a secret
			return out, nil
		case c == '\\':
			if err := s.escape(what); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", s.fail("%s: control character in string at offset %d", what, s.pos)
		default:
			s.buf = append(s.buf, c)
			s.pos++
		}
	}
	return "", s.fail("%s: unterminated string", what)
}

// escape decodes one backslash escape at s.pos into s.buf.
func (s *scanner) escape(what string) error {
	at := s.pos
	if at+1 >= len(s.data) {
		return s.fail("%s: unterminated string", what)
	}
	s.pos += 2
	switch e := s.data[at+1]; e {
	case '"', '\\', '/':
		s.buf = append(s.buf, e)
	case 'b':
		s.buf = append(s.buf, '\b')
	case 'f':
		s.buf = append(s.buf, '\f')
	case 'n':
		s.buf = append(s.buf, '\n')
	case 'r':
		s.buf = append(s.buf, '\r')
	case 't':
		s.buf = append(s.buf, '\t')
	case 'u':
		r, err := s.unicodeEscape(what, at)
		if err != nil {
			return err
		}
		s.buf = utf8.AppendRune(s.buf, r)
	default:
		return s.fail("%s: invalid escape at offset %d", what, at)
	}
	return nil
}

// unicodeEscape reads the XXXX of \uXXXX (s.pos is just after the u) and,
// for a high surrogate, the low surrogate escape that must follow. An
// unpaired surrogate is an error rather than a silent U+FFFD.
func (s *scanner) unicodeEscape(what string, at int) (rune, error) {
	r, ok := s.hex4()
	if !ok {
		return 0, s.fail("%s: invalid \\u escape at offset %d", what, at)
	}
	switch {
	case r >= 0xDC00 && r < 0xE000:
		return 0, s.fail("%s: unpaired surrogate at offset %d", what, at)
	case r < 0xD800 || r >= 0xE000:
		return r, nil
	}
	if s.pos+2 > len(s.data) || s.data[s.pos] != '\\' || s.data[s.pos+1] != 'u' {
		return 0, s.fail("%s: unpaired surrogate at offset %d", what, at)
	}
	s.pos += 2
	lo, ok := s.hex4()
	if !ok || lo < 0xDC00 || lo >= 0xE000 {
		return 0, s.fail("%s: unpaired surrogate at offset %d", what, at)
	}
	return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
}

// hex4 reads four hex digits at s.pos.
func (s *scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	s.pos += 4
	return r, true
}

// strings reads an array of strings.
func (s *scanner) strings(what string) ([]string, error) {
	if !s.consume('[') {
		return nil, s.fail("%s: want an array of strings at offset %d", what, s.pos)
	}
	out := []string{}
	if s.consume(']') {
		return out, nil
	}
	for {
		v, err := s.str(what)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", what, len(out), err)
		}
		out = append(out, v)
		if s.consume(']') {
			return out, nil
		}
		if !s.consume(',') {
			return nil, s.fail("%s: want ',' or ']' at offset %d", what, s.pos)
		}
	}
}

// stringMap reads an object of strings; a duplicated key is an error.
func (s *scanner) stringMap(what string) (map[string]string, error) {
	if !s.consume('{') {
		return nil, s.fail("%s: want an object of strings at offset %d", what, s.pos)
	}
	out := map[string]string{}
	if s.consume('}') {
		return out, nil
	}
	for {
		k, err := s.str(what + " key")
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, s.fail("%s: duplicate key at offset %d", what, s.pos)
		}
		if !s.consume(':') {
			return nil, s.fail("%s: want ':' at offset %d", what, s.pos)
		}
		if out[k], err = s.str(what + " value"); err != nil {
			return nil, err
		}
		if s.consume('}') {
			return out, nil
		}
		if !s.consume(',') {
			return nil, s.fail("%s: want ',' or '}' at offset %d", what, s.pos)
		}
	}
}
