package backend

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/keychain-auth/keychain-auth/secret"
)

// The Windows Credential Manager store is written against credAPI so that
// its layout (target names, chunking, manifests) is tested on every OS with
// a fake that has the Credential Manager's limits; wincred_windows.go binds
// it to the real API.
//
// Layout. Every item is one generic credential whose target name is
// credPrefix + esc(service) + ":" + esc(key). esc keeps a-z, 0-9, '-', '.'
// and '_' and writes every other byte as %XX, so the separator ':' and the
// enumeration wildcard '*' never appear raw, and because no upper-case letter
// appears raw the Credential Manager's case-insensitive target names cannot
// merge "Key" and "key". Its blob is a manifest line (JSON) and, when it
// fits, the payload inline: the item's attributes (JSON), a newline, the
// value. A payload that does not fit the 2,560-byte blob limit is split into
// part credentials named credPartPrefix + esc(service) + ":" + esc(key) +
// ":" + generation + ":" + index, under a generation that is new on every
// write. Parts are written first and the manifest last (one CredWrite, which
// replaces the credential as a whole), so a reader sees the old value or the
// new one, never half of either; old parts are removed afterwards. Delete
// removes the manifest first, so no reader follows it to missing parts.
const (
	credPrefix     = "keychain-auth:"
	credPartPrefix = "keychain-auth~part:"
	credBlobMax    = 2560
	credComment    = "keychain-auth item (managed by the keychain-auth daemon; do not edit)"
	credVersion    = 1
)

// errCredNotFound is what a credAPI returns for a missing target.
var errCredNotFound = errors.New("credential not found")

// credAPI is the Credential Manager as the store uses it. Target names
// compare case-insensitively, as in Windows.
type credAPI interface {
	read(target string) ([]byte, error)
	write(target string, blob []byte) error
	// remove deletes a target; a missing one is errCredNotFound.
	remove(target string) error
	// list returns the targets that start with prefix.
	list(prefix string) ([]string, error)
}

// Wincred is the Windows Credential Manager store. It is not atomic across
// items: Set and Delete of several items put back what they changed when
// one fails (see setBatch).
type Wincred struct {
	mu  sync.Mutex
	api credAPI
}

var _ Store = (*Wincred)(nil)

// credManifest is the first line of an item's blob.
type credManifest struct {
	Magic string `json:"keychain-auth"`
	V     int    `json:"v"`
	Gen   string `json:"gen,omitempty"`
	Parts int    `json:"parts"`
	Size  int    `json:"size"`
}

func newWincred(api credAPI) *Wincred { return &Wincred{api: api} }

// Info describes the store.
func (w *Wincred) Info() Info {
	return Info{
		Name:   NameWincred,
		AtRest: "Windows Credential Manager (protected by DPAPI with the user's logon credentials)",
	}
}

// Close releases nothing: the API holds no connection.
func (w *Wincred) Close() error { return nil }

// Get returns one item with its value.
func (w *Wincred) Get(service, key string) (Item, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	it, err := w.getOne(service, key)
	if err != nil {
		return Item{}, fmt.Errorf("get: %w", err)
	}
	return it, nil
}

// List returns the items of service whose key starts with prefix.
func (w *Wincred) List(service, prefix string, withValues bool) ([]Item, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	base := credPrefix + credEscape(service) + ":"
	targets, err := w.api.list(base)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []Item
	for _, t := range targets {
		rest, ok := strings.CutPrefix(t, base) // exact case: ours are written so
		key, err := credUnescape(rest)
		if !ok || err != nil || !strings.HasPrefix(key, prefix) {
			continue
		}
		it, err := w.getOne(service, key)
		if errors.Is(err, ErrNotFound) || errors.Is(err, errDamaged) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		if !withValues {
			it.Value = ""
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Set writes items one by one, putting back earlier ones if one fails.
func (w *Wincred) Set(service string, items []Item) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return setBatch(w, service, items)
}

// Delete removes keys; missing keys are not an error.
func (w *Wincred) Delete(service string, keys []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return deleteBatch(w, service, keys)
}

// errNotOurs marks a credential at one of our target names that
// keychain-auth did not write (target names are case-insensitive, so another
// program can take one). For keychain-auth the key does not exist: Get says
// ErrNotFound, List skips it, Set replaces it.
var errNotOurs = fmt.Errorf("credential was not written by keychain-auth: %w", ErrNotFound)

func credTarget(service, key string) string {
	return credPrefix + credEscape(service) + ":" + credEscape(key)
}

func credPartTarget(service, key, gen string, i int) string {
	return credPartPrefix + credEscape(service) + ":" + credEscape(key) + ":" + gen + ":" + strconv.Itoa(i)
}

func (w *Wincred) readManifest(service, key string) (credManifest, []byte, error) {
	blob, err := w.api.read(credTarget(service, key))
	if errors.Is(err, errCredNotFound) {
		return credManifest{}, nil, ErrNotFound
	}
	if err != nil {
		return credManifest{}, nil, err
	}
	line, inline, ok := bytes.Cut(blob, []byte("\n"))
	var m credManifest
	if !ok || json.Unmarshal(line, &m) != nil || m.Magic != "item" || m.V != credVersion || m.Parts < 0 || m.Size < 0 {
		return credManifest{}, nil, fmt.Errorf("%q: %w", key, errNotOurs)
	}
	return m, inline, nil
}

func (w *Wincred) getOne(service, key string) (Item, error) {
	m, inline, err := w.readManifest(service, key)
	if err != nil {
		return Item{}, err
	}
	payload := inline
	if m.Parts > 0 {
		if payload, err = w.readParts(service, key, m); err != nil {
			return Item{}, err
		}
	}
	if len(payload) != m.Size {
		return Item{}, fmt.Errorf("item %q: %d of %d bytes: %w", key, len(payload), m.Size, errDamaged)
	}
	attrJSON, value, ok := bytes.Cut(payload, []byte("\n"))
	var attrs map[string]string
	if !ok || json.Unmarshal(attrJSON, &attrs) != nil {
		return Item{}, fmt.Errorf("item %q: bad attributes: %w", key, errDamaged)
	}
	return Item{Key: key, Value: secret.New(string(value)), Attributes: attrs}, nil
}

func (w *Wincred) readParts(service, key string, m credManifest) ([]byte, error) {
	buf := make([]byte, 0, m.Size)
	for i := range m.Parts {
		part, err := w.api.read(credPartTarget(service, key, m.Gen, i))
		if errors.Is(err, errCredNotFound) {
			return nil, fmt.Errorf("item %q: part %d of %d is missing: %w", key, i+1, m.Parts, errDamaged)
		}
		if err != nil {
			return nil, err
		}
		buf = append(buf, part...)
	}
	return buf, nil
}

func (w *Wincred) putOne(service string, it Item) error {
	old, _, err := w.readManifest(service, it.Key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	attrJSON, err := json.Marshal(it.Attributes)
	if err != nil {
		return fmt.Errorf("encode attributes: %w", err)
	}
	payload := slices.Concat(attrJSON, []byte("\n"), []byte(it.Value.Reveal()))
	m := credManifest{Magic: "item", V: credVersion, Size: len(payload)}
	head, _ := json.Marshal(m)
	if len(head)+1+len(payload) <= credBlobMax {
		err = w.api.write(credTarget(service, it.Key), slices.Concat(head, []byte("\n"), payload))
	} else {
		err = w.writeChunked(service, it.Key, m, payload)
	}
	if err != nil {
		return err
	}
	w.removeParts(service, it.Key, old)
	return nil
}

// writeChunked writes the parts under a fresh generation, then the
// manifest; on failure it removes the parts it wrote and leaves the old
// item as it was.
func (w *Wincred) writeChunked(service, key string, m credManifest, payload []byte) error {
	gen := make([]byte, 8)
	if _, err := rand.Read(gen); err != nil {
		return fmt.Errorf("generation: %w", err)
	}
	m.Gen = hex.EncodeToString(gen)
	m.Parts = (len(payload) + credBlobMax - 1) / credBlobMax
	for i := range m.Parts {
		chunk := payload[i*credBlobMax : min((i+1)*credBlobMax, len(payload))]
		if err := w.api.write(credPartTarget(service, key, m.Gen, i), chunk); err != nil {
			w.removeParts(service, key, credManifest{Gen: m.Gen, Parts: i})
			return fmt.Errorf("write part %d of %d: %w", i+1, m.Parts, err)
		}
	}
	head, _ := json.Marshal(m)
	if err := w.api.write(credTarget(service, key), append(head, '\n')); err != nil {
		w.removeParts(service, key, m)
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// removeParts deletes the parts of an old generation. Failures leave
// orphans that no manifest names: they waste space but are never read.
func (w *Wincred) removeParts(service, key string, m credManifest) {
	for i := range m.Parts {
		_ = w.api.remove(credPartTarget(service, key, m.Gen, i))
	}
}

func (w *Wincred) deleteOne(service, key string) error {
	m, _, err := w.readManifest(service, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := w.api.remove(credTarget(service, key)); err != nil && !errors.Is(err, errCredNotFound) {
		return err
	}
	w.removeParts(service, key, m)
	return nil
}

// credEscape encodes s for a target name (see the layout comment).
func credEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if credRaw(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func credRaw(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

// credUnescape reverses credEscape and accepts only its exact output, so a
// name decodes to one key only.
func credUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if credRaw(c) {
			b.WriteByte(c)
			continue
		}
		if c != '%' || i+2 >= len(s) || !upperHex(s[i+1]) || !upperHex(s[i+2]) {
			return "", fmt.Errorf("bad target name")
		}
		v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if credRaw(byte(v)) {
			return "", fmt.Errorf("bad target name")
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func upperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }
