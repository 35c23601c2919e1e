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

// vaultData is the decrypted content of a vault: service → items. It is
// changed in place, by one writer holding Vault.mu, and read under the read
// lock; a write changes it only once the change is on disk (or undoes it
// when the disk write fails), so a batch is all-or-nothing in memory too.
// Changing one key costs a map update and, for a new or removed key, one
// shift of the sorted key slice: no copy of the vault.
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

// vaultChange is one Set or Delete batch: what a journal record holds.
type vaultChange struct {
	del     bool
	service string
	items   []Item   // Set
	keys    []string // Delete
}

// changes reports whether applying c to d would change anything: a Delete
// of keys that are all missing writes nothing.
func (c *vaultChange) changes(d vaultData) bool {
	if !c.del {
		return len(c.items) > 0
	}
	sd := d[c.service]
	return sd != nil && slices.ContainsFunc(c.keys, func(k string) bool { _, ok := sd.items[k]; return ok })
}

// applyAll applies a journal's worth of changes. Past a few, inserting
// each new key into the sorted index (a shift of the slice) would cost
// more than sorting the index once, so the maps change first and each
// touched service's index is rebuilt after.
func (d vaultData) applyAll(cs []*vaultChange) {
	if len(cs) <= 32 {
		for _, c := range cs {
			d.apply(c)
		}
		return
	}
	touched := map[string]bool{}
	for _, c := range cs {
		touched[c.service] = true
		sd := d[c.service]
		if sd == nil {
			sd = &serviceData{items: map[string]vaultEntry{}}
			d[c.service] = sd
		}
		for _, it := range c.items {
			sd.items[it.Key] = newEntry(it)
		}
		for _, k := range c.keys {
			delete(sd.items, k)
		}
	}
	for service := range touched {
		if sd := d[service]; len(sd.items) == 0 {
			delete(d, service)
		} else {
			sd.keys = slices.Sorted(maps.Keys(sd.items))
		}
	}
}

func newEntry(it Item) vaultEntry {
	var attrs map[string]string
	if len(it.Attributes) > 0 {
		attrs = maps.Clone(it.Attributes)
	}
	return vaultEntry{value: it.Value, attrs: attrs}
}

// apply changes d in place and returns what undoes it (for a write that
// did not reach the disk).
func (d vaultData) apply(c *vaultChange) (undo func()) {
	type prior struct {
		key     string
		e       vaultEntry
		existed bool
	}
	var was []prior
	remember := func(k string) {
		var e vaultEntry
		ok := false
		if sd := d[c.service]; sd != nil {
			e, ok = sd.items[k]
		}
		was = append(was, prior{k, e, ok})
	}
	if c.del {
		for _, k := range c.keys {
			remember(k)
			d.remove(c.service, k)
		}
	} else {
		for _, it := range c.items {
			remember(it.Key)
			d.put(c.service, it.Key, newEntry(it))
		}
	}
	return func() {
		for i := len(was) - 1; i >= 0; i-- {
			if p := was[i]; p.existed {
				d.put(c.service, p.key, p.e)
			} else {
				d.remove(c.service, p.key)
			}
		}
	}
}

func (d vaultData) put(service, key string, e vaultEntry) {
	sd := d[service]
	if sd == nil {
		sd = &serviceData{items: map[string]vaultEntry{}}
		d[service] = sd
	}
	if _, ok := sd.items[key]; !ok {
		i, _ := slices.BinarySearch(sd.keys, key)
		sd.keys = slices.Insert(sd.keys, i, key)
	}
	sd.items[key] = e
}

func (d vaultData) remove(service, key string) {
	sd := d[service]
	if sd == nil {
		return
	}
	if _, ok := sd.items[key]; !ok {
		return
	}
	delete(sd.items, key)
	if i, ok := slices.BinarySearch(sd.keys, key); ok {
		sd.keys = slices.Delete(sd.keys, i, i+1)
	}
	if len(sd.items) == 0 {
		delete(d, service)
	}
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
			b = appendItem(b, k, e.value, e.attrs)
		}
	}
	return b
}

// appendItem encodes one item as the snapshot and the journal both store
// it: key, value, then the attributes sorted by name.
func appendItem(b []byte, key string, value secret.Value, attrs map[string]string) []byte {
	b = appendString(b, key)
	b = appendString(b, value.Reveal())
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		b = appendString(b, name)
		b = appendString(b, attrs[name])
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

// Change encoding, the plaintext of a journal record:
//
//	version(1) op('s' set, 'd' delete) service
//	  set:    nItems { key value nAttrs { name value } }
//	  delete: nKeys { key }
const changeVersion = 1

func encodeChange(c *vaultChange) []byte {
	b := []byte{changeVersion, 's'}
	if c.del {
		b[1] = 'd'
	}
	b = appendString(b, c.service)
	if c.del {
		b = binary.AppendUvarint(b, uint64(len(c.keys)))
		for _, k := range c.keys {
			b = appendString(b, k)
		}
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(c.items)))
	for _, it := range c.items {
		b = appendItem(b, it.Key, it.Value, it.Attributes)
	}
	return b
}

func decodeChange(b []byte) (*vaultChange, error) {
	if len(b) < 2 || b[0] != changeVersion || (b[1] != 's' && b[1] != 'd') {
		return nil, errBadPayload
	}
	c := &vaultChange{del: b[1] == 'd'}
	r := &payloadReader{b: b[2:]}
	c.service = r.str()
	for range r.count() {
		key := r.str()
		if c.del {
			c.keys = append(c.keys, key)
			continue
		}
		it := Item{Key: key, Value: secret.New(r.str())}
		if n := r.count(); n > 0 {
			it.Attributes = make(map[string]string, n)
			for range n {
				name := r.str()
				it.Attributes[name] = r.str()
			}
		}
		c.items = append(c.items, it)
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errBadPayload
	}
	return c, nil
}
