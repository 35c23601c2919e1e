package backend

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/keychain-auth/keychain-auth/secret"
)

// vaultData is the decrypted content of a vault: service → items. A
// published vaultData is never modified; changes build a new one (sharing
// the untouched services), so readers need no copy and a failed write
// leaves the current one as it was.
type vaultData map[string]*serviceData

type serviceData struct {
	items map[string]vaultEntry
	keys  []string // sorted, for prefix List by binary search
}

type vaultEntry struct {
	value secret.Value
	attrs map[string]string
}

func (d vaultData) get(service, key string) (Item, bool) {
	sd := d[service]
	if sd == nil {
		return Item{}, false
	}
	e, ok := sd.items[key]
	return Item{Key: key, Value: e.value, Attributes: maps.Clone(e.attrs)}, ok
}

func (d vaultData) list(service, prefix string, withValues bool) []Item {
	sd := d[service]
	if sd == nil {
		return nil
	}
	var out []Item
	for i := sort.SearchStrings(sd.keys, prefix); i < len(sd.keys) && strings.HasPrefix(sd.keys[i], prefix); i++ {
		k := sd.keys[i]
		e := sd.items[k]
		it := Item{Key: k, Attributes: maps.Clone(e.attrs)}
		if withValues {
			it.Value = e.value
		}
		out = append(out, it)
	}
	return out
}

// withSet returns a copy of d with items set in service.
func (d vaultData) withSet(service string, items []Item) vaultData {
	sd := d[service].clone()
	for _, it := range items {
		var attrs map[string]string
		if len(it.Attributes) > 0 {
			attrs = maps.Clone(it.Attributes)
		}
		sd.items[it.Key] = vaultEntry{value: it.Value, attrs: attrs}
	}
	return d.replace(service, sd)
}

// withDelete returns a copy of d without keys in service, and whether
// anything was removed (nothing to write otherwise).
func (d vaultData) withDelete(service string, keys []string) (vaultData, bool) {
	old := d[service]
	if old == nil || !slices.ContainsFunc(keys, func(k string) bool { _, ok := old.items[k]; return ok }) {
		return d, false
	}
	sd := old.clone()
	for _, k := range keys {
		delete(sd.items, k)
	}
	return d.replace(service, sd), true
}

func (sd *serviceData) clone() *serviceData {
	out := &serviceData{items: map[string]vaultEntry{}}
	if sd != nil {
		out.items = maps.Clone(sd.items)
	}
	return out
}

// replace returns a copy of d where service holds sd (or nothing when sd is
// empty), refreshing sd's sorted key index.
func (d vaultData) replace(service string, sd *serviceData) vaultData {
	out := maps.Clone(d)
	if out == nil {
		out = vaultData{}
	}
	if len(sd.items) == 0 {
		delete(out, service)
		return out
	}
	sd.keys = slices.Sorted(maps.Keys(sd.items))
	out[service] = sd
	return out
}

// Payload encoding: a version byte, then length-prefixed fields in sorted
// order. Every string is a uvarint length and raw bytes, so values and names
// round-trip byte-exact (JSON would mangle invalid UTF-8, and secret.Value
// refuses to marshal itself there anyway).
//
//	version(1) nServices { service nItems { key value nAttrs { name value } } }
const payloadVersion = 1

func encodePayload(d vaultData) []byte {
	b := []byte{payloadVersion}
	b = binary.AppendUvarint(b, uint64(len(d)))
	for _, service := range slices.Sorted(maps.Keys(d)) {
		sd := d[service]
		b = appendString(b, service)
		b = binary.AppendUvarint(b, uint64(len(sd.keys)))
		for _, k := range sd.keys {
			e := sd.items[k]
			b = appendString(b, k)
			b = appendString(b, e.value.Reveal())
			b = binary.AppendUvarint(b, uint64(len(e.attrs)))
			for _, name := range slices.Sorted(maps.Keys(e.attrs)) {
				b = appendString(b, name)
				b = appendString(b, e.attrs[name])
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadPayload = errors.New("vault payload is malformed")

func decodePayload(b []byte) (vaultData, error) {
	if len(b) == 0 || b[0] != payloadVersion {
		return nil, errBadPayload
	}
	r := &payloadReader{b: b[1:]}
	d := vaultData{}
	for range r.count() {
		service := r.str()
		sd := &serviceData{items: map[string]vaultEntry{}}
		for range r.count() {
			key := r.str()
			e := vaultEntry{value: secret.New(r.str())}
			if n := r.count(); n > 0 {
				e.attrs = make(map[string]string, n)
				for range n {
					name := r.str()
					e.attrs[name] = r.str()
				}
			}
			sd.items[key] = e
		}
		if r.err == nil && len(sd.items) > 0 {
			sd.keys = slices.Sorted(maps.Keys(sd.items))
			d[service] = sd
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errBadPayload
	}
	return d, nil
}

// payloadReader reads fields until the first error, after which every read
// returns zero values; decodePayload checks err once at the end.
type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadPayload
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads an element count; each element takes at least one byte, so a
// count above the bytes left is corrupt and never drives an allocation.
func (r *payloadReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errBadPayload
		return 0
	}
	return int(n)
}

func (r *payloadReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadPayload
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
