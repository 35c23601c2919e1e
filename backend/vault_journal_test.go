package backend_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
)

// The tests here know the journal's layout (vault_journal.go): a 34-byte
// header whose last 24 bytes are the snapshot's nonce, then records of
// length (4) | CRC of it (4) | nonce (24) | L bytes of ciphertext and tag.
const journalHeaderLen = 34

func journalPath(dir string) string { return filepath.Join(dir, backend.VaultJournalFileName) }

func readJournal(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(journalPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeJournal(t *testing.T, dir string, b []byte) {
	t.Helper()
	if err := os.WriteFile(journalPath(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// journalRecords splits a journal into its header and its records.
func journalRecords(t *testing.T, b []byte) (hdr []byte, recs [][]byte) {
	t.Helper()
	hdr, b = b[:journalHeaderLen], b[journalHeaderLen:]
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("journal ends with %d bytes that are no record", len(b))
		}
		n := 8 + 24 + int(binary.BigEndian.Uint32(b))
		if n > len(b) {
			t.Fatalf("journal ends inside a record (%d of %d bytes)", len(b), n)
		}
		recs, b = append(recs, b[:n]), b[n:]
	}
	return hdr, recs
}

// copyVault copies the vault's files (not its lock) into a new directory.
func copyVault(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	for name, b := range readDir(t, dir) {
		if err := os.WriteFile(filepath.Join(to, name), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// nextRecord returns the record that a write of key would append to the
// vault in dir, made by a real write into a copy of it: what a writer
// killed during that append was writing.
func nextRecord(t *testing.T, dir, key string) []byte {
	t.Helper()
	rec, ok := tryNextRecord(t, dir, key)
	if !ok {
		t.Fatal("the write into the copy did not append to its journal")
	}
	return rec
}

// tryNextRecord is nextRecord, reporting false when the write did not
// simply append (the journal had a torn tail, was of an older snapshot, or
// was due for compaction).
func tryNextRecord(t *testing.T, dir, key string) ([]byte, bool) {
	t.Helper()
	before := readJournal(t, dir)
	cp := copyVault(t, dir)
	v := openVault(t, cp, "")
	set(t, v, "svc", backend.Item{Key: key, Value: secret.New("unacknowledged")})
	v.Close()
	after, err := os.ReadFile(journalPath(cp))
	if err != nil || !bytes.HasPrefix(after, before) || len(after) == len(before) {
		return nil, false
	}
	return after[len(before):], true
}

// journalVault returns a key-file vault whose journal holds one record per
// key (the snapshot holds none of them).
func journalVault(t *testing.T, keys ...string) string {
	t.Helper()
	dir := t.TempDir()
	v := openVault(t, dir, "")
	for _, k := range keys {
		set(t, v, "svc", backend.Item{Key: k, Value: secret.New("value-" + k)})
	}
	v.Close()
	if _, recs := journalRecords(t, readJournal(t, dir)); len(recs) != len(keys) {
		t.Fatalf("journal holds %d records, want %d", len(recs), len(keys))
	}
	return dir
}

// A record cut anywhere (what a writer killed during its append leaves, or
// a file extended before its data reached the disk) is never read as data:
// the vault opens with every acknowledged write, without the torn one, and
// the next write cuts the torn bytes off before it appends.
func TestVaultJournalTornTail(t *testing.T) {
	dir := journalVault(t, "k1", "k2")
	acked := readJournal(t, dir)
	rec := nextRecord(t, dir, "torn")

	// Canary: the whole record is real, and is read as data.
	whole := copyVault(t, dir)
	writeJournal(t, whole, append(bytes.Clone(acked), rec...))
	wantValue(t, openVault(t, whole, ""), "svc", "torn", "unacknowledged")

	tails := map[string][]byte{"zeros": make([]byte, len(rec))}
	for cut := 1; cut < len(rec); cut++ {
		tails[fmt.Sprintf("cut at %d of %d", cut, len(rec))] = rec[:cut]
	}
	for name, tail := range tails {
		d := copyVault(t, dir)
		writeJournal(t, d, append(bytes.Clone(acked), tail...))
		v, err := backend.OpenVault(d, backend.VaultOptions{})
		if err != nil {
			t.Fatalf("%s: open with a torn tail: %v", name, err)
		}
		wantValue(t, v, "svc", "k1", "value-k1")
		wantValue(t, v, "svc", "k2", "value-k2")
		if _, err := v.Get("svc", "torn"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("%s: the torn record was read as data (err %v)", name, err)
		}
		set(t, v, "svc", backend.Item{Key: "k3", Value: secret.New("value-k3")})
		v.Close()
		// The torn bytes are gone: the journal is the acknowledged records
		// and the new one, and all of them read back.
		got := readJournal(t, d)
		if _, recs := journalRecords(t, got); !bytes.HasPrefix(got, acked) || len(recs) != 3 {
			t.Fatalf("%s: after the next write the journal holds %d records (torn bytes kept?)", name, len(recs))
		}
		v = openVault(t, d, "")
		wantValue(t, v, "svc", "k3", "value-k3")
		v.Close()
	}
}

// A record that is all there but does not authenticate where it stands is
// damage or tampering, not a crash: the vault refuses to open, says which
// record and what to do, and writes nothing. Dropping it and what follows
// would silently lose acknowledged writes.
func TestVaultJournalDamageRefused(t *testing.T) {
	dir := journalVault(t, "k1", "k2", "k3")
	orig := readJournal(t, dir)
	hdr, r := journalRecords(t, orig)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(rec []byte, i int) []byte { b := bytes.Clone(rec); b[i] ^= 0x01; return b }

	// Canary: the journal as written opens with all three writes.
	v := openVault(t, dir, "")
	wantValue(t, v, "svc", "k3", "value-k3")
	v.Close()

	cases := map[string][]byte{
		"middle record spliced out":           join(hdr, r[0], r[2]),
		"records swapped":                     join(hdr, r[0], r[2], r[1]),
		"record replayed":                     join(hdr, r[0], r[1], r[1], r[2]),
		"first record spliced out":            join(hdr, r[1], r[2]),
		"middle record cut short in place":    join(hdr, r[0], r[1][:len(r[1])/2], r[2]),
		"length of the middle record altered": join(hdr, r[0], flip(r[1], 3), r[2]),
		"header altered":                      join(flip(hdr, 0), r[0], r[1], r[2]),
	}
	for i := 8; i < len(r[1]); i++ { // nonce, ciphertext, tag
		cases[fmt.Sprintf("middle record byte %d", i)] = join(hdr, r[0], flip(r[1], i), r[2])
	}
	// The last record, when whole, is no torn write either.
	cases["last record tag"] = join(hdr, r[0], r[1], flip(r[2], len(r[2])-1))
	for name, j := range cases {
		writeJournal(t, dir, j)
		before := readDir(t, dir)
		_, err := backend.OpenVault(dir, backend.VaultOptions{})
		if !errors.Is(err, backend.ErrJournalDamagedForTest) || !strings.Contains(err.Error(), backend.VaultJournalFileName) {
			t.Errorf("%s: open err = %v, want a damaged-journal error naming %s", name, err, backend.VaultJournalFileName)
		}
		if after := readDir(t, dir); !maps.Equal(before, after) {
			t.Errorf("%s: a refused open changed the vault's files", name)
		}
	}
}

// Records of an older generation, relabelled as the current one, do not
// authenticate: each record is bound to the snapshot it continues.
func TestVaultJournalOtherGenerationRefused(t *testing.T) {
	dir := journalVault(t, "k1", "k2")
	old := readJournal(t, dir)
	v := openVault(t, dir, "")
	restore := backend.VaultCompactionForTest(0, 63)
	set(t, v, "svc", backend.Item{Key: "k3", Value: secret.New("value-k3")})
	restore()
	v.Close()
	// The compacting write started an empty journal for the new snapshot.
	if j := readJournal(t, dir); len(j) != journalHeaderLen || !bytes.Equal(j[10:34], readVaultFile(t, dir)[36:60]) {
		t.Fatalf("after a compaction the journal is %d bytes, want an empty journal of the new snapshot", len(j))
	}
	// Left as it was, the old journal is of another generation: it is what
	// a compaction killed before removing it leaves, and it is ignored.
	writeJournal(t, dir, old)
	v = openVault(t, dir, "")
	wantValue(t, v, "svc", "k3", "value-k3")
	v.Close()
	if _, err := os.Stat(journalPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the open kept the journal of an older snapshot (stat err %v)", err)
	}
	// Relabelled with the new snapshot's generation, it is refused.
	relabelled := bytes.Clone(old)
	copy(relabelled[10:34], readVaultFile(t, dir)[36:60])
	writeJournal(t, dir, relabelled)
	if _, err := backend.OpenVault(dir, backend.VaultOptions{}); !errors.Is(err, backend.ErrJournalDamagedForTest) {
		t.Errorf("open with records relabelled to the current generation: err = %v, want a damaged-journal error", err)
	}
}

// A vault written by the format before the journal (version 1, made by
// the code of 2026-12-02 and kept in testdata) opens, is read without being
// written, and its first write carries it forward to version 2.
func TestVaultOpensVersion1(t *testing.T) {
	for _, mode := range []struct{ name, pass string }{{"keyfile", ""}, {"passphrase", "fixture passphrase"}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join("testdata", "vault-v1", mode.name)
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(src, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := readVaultFile(t, dir)[8:10]; !bytes.Equal(got, []byte{0, 1}) {
				t.Fatalf("fixture is format version %v, want 1", got)
			}
			if exists, pass, err := backend.VaultProtection(dir); err != nil || !exists || pass != (mode.pass != "") {
				t.Errorf("VaultProtection = %v, %v, %v", exists, pass, err)
			}
			before := readDir(t, dir)
			v := openVault(t, dir, mode.pass)
			wantValue(t, v, "svc", "alpha", "alpha-value")
			wantValue(t, v, "svc", "beta", "beta\x00\xffvalue")
			wantValue(t, v, "other", "gamma", "gamma-value")
			if it, _ := v.Get("svc", "alpha"); it.Attributes["user"] != "u1" {
				t.Errorf("attributes = %v", it.Attributes)
			}
			if after := readDir(t, dir); !maps.Equal(before, after) {
				t.Error("opening and reading a version 1 vault wrote to it")
			}
			set(t, v, "svc", backend.Item{Key: "delta", Value: secret.New("delta-value")})
			if got := readVaultFile(t, dir)[8:10]; !bytes.Equal(got, []byte{0, 2}) {
				t.Errorf("after the first write the vault is format version %v, want 2", got)
			}
			set(t, v, "svc", backend.Item{Key: "epsilon", Value: secret.New("epsilon-value")})
			if _, recs := journalRecords(t, readJournal(t, dir)); len(recs) != 1 {
				t.Errorf("second write: %d journal records, want 1", len(recs))
			}
			v.Close()
			v = openVault(t, dir, mode.pass)
			defer v.Close()
			wantValue(t, v, "svc", "alpha", "alpha-value")
			wantValue(t, v, "other", "gamma", "gamma-value")
			wantValue(t, v, "svc", "delta", "delta-value")
			wantValue(t, v, "svc", "epsilon", "epsilon-value")
		})
	}
}

// A wrong passphrase writes nothing: not the snapshot, not the journal
// (whose torn tail stays as it is until a write with the right key), not
// its time stamps.
func TestVaultWrongPassphraseWritesNothing(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	v := openVault(t, dir, testPass)
	set(t, v, "svc", backend.Item{Key: "k1", Value: secret.New("v1")})
	set(t, v, "svc", backend.Item{Key: "k2", Value: secret.New("v2")})
	v.Close()
	f, err := os.OpenFile(journalPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0, 0, 0, 40, 1, 2}); err != nil { // a torn tail
		t.Fatal(err)
	}
	f.Close()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, name := range []string{backend.VaultFileName, backend.VaultJournalFileName} {
		if err := os.Chtimes(filepath.Join(dir, name), past, past); err != nil {
			t.Fatal(err)
		}
	}
	stamp := func() map[string]string {
		files := readDir(t, dir)
		out := maps.Clone(files)
		for name := range files {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			out[name+" mtime"] = st.ModTime().String()
		}
		return out
	}
	before := stamp()
	if _, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: secret.New("wrong horse")}); !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("open with a wrong passphrase: err = %v", err)
	}
	lv, err := backend.OpenVault(dir, backend.VaultOptions{LockedWithoutPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := lv.Unlock(secret.New("wrong horse")); !errors.Is(err, backend.ErrBadPassphrase) {
		t.Errorf("Unlock with a wrong passphrase: err = %v", err)
	}
	if err := lv.Set("svc", []backend.Item{{Key: "k3", Value: secret.New("v3")}}); !errors.Is(err, backend.ErrLocked) {
		t.Errorf("Set on the locked vault: err = %v, want ErrLocked", err)
	}
	lv.Close()
	if after := stamp(); !maps.Equal(before, after) {
		t.Errorf("a wrong passphrase changed the vault's files:\nbefore %v\nafter  %v", keysOf(before), keysOf(after))
	}
	// Canary: the right passphrase and a write do change them.
	v = openVault(t, dir, testPass)
	set(t, v, "svc", backend.Item{Key: "k3", Value: secret.New("v3")})
	v.Close()
	if after := stamp(); maps.Equal(before, after) {
		t.Error("canary: a write with the right passphrase changed nothing that stamp() sees")
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		if strings.HasSuffix(k, " mtime") {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// Reopening replays the journal to the same state the writer had in
// memory, past the size where replay sorts each service's index once
// instead of inserting key by key: sets, overwrites, deletes, a service
// emptied and one refilled.
func TestVaultJournalReplayMatches(t *testing.T) {
	dir := t.TempDir()
	v := openVault(t, dir, "")
	for i := range 120 {
		svc := []string{"a", "b", "c"}[i%3]
		set(t, v, svc, backend.Item{Key: fmt.Sprintf("k%03d", (i*37)%50), Value: secret.New(fmt.Sprint(i)),
			Attributes: map[string]string{"i": fmt.Sprint(i)}})
		if i%7 == 0 {
			if err := v.Delete(svc, []string{fmt.Sprintf("k%03d", (i*11)%50)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := v.Delete("c", keysIn(t, v, "c")); err != nil {
		t.Fatal(err)
	}
	set(t, v, "d", backend.Item{Key: "only", Value: secret.New("x")})
	if _, recs := journalRecords(t, readJournal(t, dir)); len(recs) < 100 {
		t.Fatalf("%d journal records, want 100+", len(recs))
	}
	want := dump(t, v)
	v.Close()
	v = openVault(t, dir, "")
	defer v.Close()
	if got := dump(t, v); got != want {
		t.Errorf("state after replay differs from the writer's:\ngot  %s\nwant %s", got, want)
	}
	if services, _ := v.Services(); !slices.Equal(services, []string{"a", "b", "d"}) {
		t.Errorf("services after replay = %v, want [a b d]", services)
	}
}

func keysIn(t *testing.T, v *backend.Vault, service string) []string {
	t.Helper()
	items, err := v.List(service, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// dump renders every item (values included: test data only) in List order.
func dump(t *testing.T, v *backend.Vault) string {
	t.Helper()
	var b strings.Builder
	for _, svc := range []string{"a", "b", "c", "d"} {
		items, err := v.List(svc, "", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			fmt.Fprintf(&b, "%s/%s=%s%v ", svc, it.Key, it.Value.Reveal(), it.Attributes)
		}
	}
	return b.String()
}

// The way out a damaged-journal error gives (cut the journal where it
// says) opens the vault with every write before the damaged record.
func TestVaultJournalDamageWayOut(t *testing.T) {
	dir := journalVault(t, "k1", "k2", "k3")
	hdr, r := journalRecords(t, readJournal(t, dir))
	bad := bytes.Clone(r[2])
	bad[len(bad)-1] ^= 0x01
	writeJournal(t, dir, bytes.Join([][]byte{hdr, r[0], r[1], bad}, nil))
	_, err := backend.OpenVault(dir, backend.VaultOptions{})
	if err == nil {
		t.Fatal("a damaged last record opened")
	}
	var cut int64
	msg := err.Error()
	if i := strings.Index(msg, "truncate -s "); i < 0 {
		t.Fatalf("error %q gives no place to cut", msg)
	} else if _, serr := fmt.Sscanf(msg[i:], "truncate -s %d", &cut); serr != nil {
		t.Fatalf("error %q: %v", msg, serr)
	}
	if err := os.Truncate(journalPath(dir), cut); err != nil {
		t.Fatal(err)
	}
	v := openVault(t, dir, "")
	defer v.Close()
	wantValue(t, v, "svc", "k1", "value-k1")
	wantValue(t, v, "svc", "k2", "value-k2")
	if _, err := v.Get("svc", "k3"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("k3 after cutting its damaged record: err = %v", err)
	}
}
