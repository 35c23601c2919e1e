package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// JSON field names of config.json, exactly as the spec writes them.
const (
	keyProtocolVersion = "protocol_version"
	keyRegistered      = "registered_binaries"
	keyPath            = "path"
	keyHash            = "hash"
	keyRegisteredAt    = "registered_at"
	keyReadServices    = "allowed_read_services"
	keyWriteServices   = "allowed_write_services"
	keyCanSearch       = "can_search"
	keyAllowEnv        = "allow_env"
	keyRunServices     = "allowed_run_services"
	keyInterpreter     = "interpreter"
)

// MarshalJSON writes the known fields in the spec's order, then the
// unknown fields kept from the file in sorted order.
func (c Config) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field(keyProtocolVersion, c.ProtocolVersion)
	w.field(keyRegistered, nonNil(c.RegisteredBinaries))
	w.extras(c.extra)
	return w.finish()
}

// UnmarshalJSON decodes the fields it knows (by exact, case-sensitive
// name) and keeps the rest. It does not validate; Parse does.
func (c *Config) UnmarshalJSON(data []byte) error {
	obj, err := decodeObject(data)
	if err != nil {
		return err
	}
	*c = Config{}
	if err := take(obj, keyProtocolVersion, &c.ProtocolVersion); err != nil {
		return err
	}
	var raws []json.RawMessage
	if err := take(obj, keyRegistered, &raws); err != nil {
		return err
	}
	c.RegisteredBinaries = make([]Entry, len(raws))
	for i, raw := range raws {
		if err := c.RegisteredBinaries[i].UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("%s[%d]: %w", keyRegistered, i, err)
		}
	}
	c.extra = obj
	return nil
}

// MarshalJSON writes the known fields in the spec's order (allow_env and
// allowed_run_services only when set), then the unknown fields kept from the file.
func (e Entry) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field(keyPath, e.Path)
	w.field(keyHash, e.Hash)
	w.field(keyRegisteredAt, e.RegisteredAt)
	w.field(keyReadServices, nonNil(e.AllowedReadServices))
	w.field(keyWriteServices, nonNil(e.AllowedWriteServices))
	w.field(keyCanSearch, e.CanSearch)
	if len(e.AllowEnv) > 0 {
		w.field(keyAllowEnv, e.AllowEnv)
	}
	if len(e.AllowedRunServices) > 0 {
		w.field(keyRunServices, e.AllowedRunServices)
	}
	if e.Interpreter != nil {
		in := *e.Interpreter
		in.Options = nonNil(in.Options)
		w.field(keyInterpreter, in)
	}
	w.extras(e.extra)
	return w.finish()
}

// UnmarshalJSON decodes the fields it knows and keeps the rest.
func (e *Entry) UnmarshalJSON(data []byte) error {
	obj, err := decodeObject(data)
	if err != nil {
		return err
	}
	*e = Entry{}
	for _, f := range []struct {
		key string
		dst any
	}{
		{keyPath, &e.Path},
		{keyHash, &e.Hash},
		{keyRegisteredAt, &e.RegisteredAt},
		{keyReadServices, &e.AllowedReadServices},
		{keyWriteServices, &e.AllowedWriteServices},
		{keyCanSearch, &e.CanSearch},
		{keyAllowEnv, &e.AllowEnv},
		{keyRunServices, &e.AllowedRunServices},
		{keyInterpreter, &e.Interpreter},
	} {
		if err := take(obj, f.key, f.dst); err != nil {
			return err
		}
	}
	e.AllowedReadServices = nonNil(e.AllowedReadServices)
	e.AllowedWriteServices = nonNil(e.AllowedWriteServices)
	e.extra = obj
	return nil
}

// decodeObject splits a JSON object into its members; null, arrays and
// scalars are refused.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("want a JSON object, got null")
	}
	return obj, nil
}

// take decodes obj[key] into dst and removes it from obj, so what is left
// are the unknown fields.
func take(obj map[string]json.RawMessage, key string, dst any) error {
	raw, ok := obj[key]
	if !ok {
		return nil
	}
	delete(obj, key)
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// objectWriter builds a JSON object with members in insertion order.
type objectWriter struct {
	buf bytes.Buffer
	err error
}

func (w *objectWriter) field(key string, v any) {
	if w.err != nil {
		return
	}
	val, err := marshalNoEscape(v)
	if err != nil {
		w.err = fmt.Errorf("%s: %w", key, err)
		return
	}
	w.member(key, val)
}

func (w *objectWriter) member(key string, val []byte) {
	if w.buf.Len() == 0 {
		w.buf.WriteByte('{')
	} else {
		w.buf.WriteByte(',')
	}
	k, _ := marshalNoEscape(key) // a string always marshals
	w.buf.Write(k)
	w.buf.WriteByte(':')
	w.buf.Write(val)
}

func (w *objectWriter) extras(extra map[string]json.RawMessage) {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.member(k, extra[k])
	}
}

func (w *objectWriter) finish() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.buf.Len() == 0 {
		return []byte("{}"), nil
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping, so a path with
// '&' stays readable in the file.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkDuplicateKeys walks a JSON document and fails on the first object
// that names a key twice. encoding/json would silently keep the last one.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkValue(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("unexpected data after the top-level value")
	}
	return nil
}

func walkValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec)
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

func walkObject(dec *json.Decoder) error {
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := walkValue(dec); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}
