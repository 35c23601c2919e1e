package backend

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
)

// The journal, VaultJournalFileName, holds the writes made since the
// snapshot (VaultFileName) was last written, one sealed record per Set or
// Delete batch, so that a write costs one append and one fsync instead of
// re-encrypting the whole vault. Once the journal outgrows half the
// snapshot (and at least compactMinBytes) the next write rewrites the
// snapshot with everything in it and starts an empty journal: each compaction
// costs what one write cost before the journal, and it comes once per
// many writes in proportion to the vault's size.
//
// Why a format written here and not a storage library: bbolt (or SQLite)
// would store key names in plaintext pages, and prefix List needs the names
// in order, which a store holding only encrypted names cannot keep; the
// vault would still need its decrypted in-memory index, and the library
// would be used as no more than a log of sealed blobs, which is what this
// file is. The snapshot format stays as it was, so old vaults open as they
// are and no migration step exists to fail.
//
// Layout; every integer is big-endian.
//
//	header:  magic "KCAJOURN" (8) | version 1 (2) | generation (24)
//	record:  length L (4) | CRC-32 of those 4 bytes (4) | nonce (24) |
//	         ciphertext of encodeChange + tag (L bytes)
//
// The generation is the nonce of the snapshot the journal continues. A
// journal of another generation is what a compaction killed between its
// two steps leaves (the new snapshot already holds all of it), so it is
// ignored and replaced by the next write.
//
// Each record is XChaCha20-Poly1305 under the vault key, with a fresh
// random nonce, and its associated data binds it to its place: the
// generation, its sequence number (1, 2, ...), the tag of the record before
// it (zero for the first) and its length. A record moved, replayed from
// another journal or generation, or following a removed record fails
// authentication, and so does one sealed under another key.
//
// Reading stops at the first record that is not all there: a length that
// runs past the end of the file, fewer than 8 bytes left, or only zero
// bytes left (a file extended before its data reached the disk). That is a
// torn write: an append is acknowledged only after fsync, so a torn record
// was never acknowledged, and it is never read as data; the next append
// truncates it away. A record that is all there but fails its length check
// or its authentication is damage, not a crash: the vault refuses to open
// (errJournalDamaged) rather than drop the acknowledged writes after it
// without saying so, and the error says where the intact records end.
// (A power loss could leave a last, unacknowledged record with its length
// on disk and part of its data not, on a file system that does not order
// data before size; ext4 and XFS do. That too is refused, with the same
// way out.)
const (
	journalMagic      = "KCAJOURN"
	journalVersion    = 1
	genSize           = chacha20poly1305.NonceSizeX
	journalHeaderSize = 8 + 2 + genSize
	recordPrefixSize  = 8
	recordNonceSize   = chacha20poly1305.NonceSizeX
	recordTagSize     = chacha20poly1305.Overhead
	recordOverhead    = recordPrefixSize + recordNonceSize + recordTagSize
	recordADLabel     = "KCAJREC1"
	// maxRecordBytes bounds L, so a damaged length never drives a huge
	// allocation; a bigger batch goes into the snapshot instead.
	maxRecordBytes = 1 << 30
)

// Compaction: the journal may grow to max(compactMinBytes, snapshot size >>
// compactShift) before a write rewrites the snapshot. Tests change them.
var (
	compactMinBytes int64 = 256 << 10
	compactShift    uint  = 1
)

var errJournalDamaged = errors.New("vault journal is damaged")

// journalPos is where the next record goes and what binds it.
type journalPos struct {
	off  int64
	seq  uint64
	prev [recordTagSize]byte
}

// journalState is the journal as this process last read or wrote it.
type journalState struct {
	disk os.FileInfo // nil when there was no journal file
	live bool        // it continues the current snapshot
	pos  journalPos  // end of its last valid record (when live)
}

// writeJournalRecord writes rec at off and syncs it; tests swap it to make
// an append fail before or after the data lands.
var writeJournalRecord = func(f *os.File, rec []byte, off int64) error {
	if _, err := f.WriteAt(rec, off); err != nil {
		return err
	}
	return f.Sync()
}

func journalHeader(gen *[genSize]byte) []byte {
	b := make([]byte, 0, journalHeaderSize)
	b = append(b, journalMagic...)
	b = binary.BigEndian.AppendUint16(b, journalVersion)
	return append(b, gen[:]...)
}

func recordAD(gen *[genSize]byte, seq uint64, prev *[recordTagSize]byte, length []byte) []byte {
	ad := make([]byte, 0, len(recordADLabel)+genSize+8+recordTagSize+4)
	ad = append(ad, recordADLabel...)
	ad = append(ad, gen[:]...)
	ad = binary.BigEndian.AppendUint64(ad, seq)
	ad = append(ad, prev[:]...)
	return append(ad, length...)
}

// sealRecord seals plaintext as the record after pos and returns it with
// the position after it.
func sealRecord(key *[vaultKeySize]byte, gen *[genSize]byte, pos journalPos, plaintext []byte) ([]byte, journalPos, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, pos, err
	}
	n := len(plaintext) + recordTagSize
	rec := make([]byte, recordPrefixSize+recordNonceSize, recordPrefixSize+recordNonceSize+n)
	binary.BigEndian.PutUint32(rec[0:4], uint32(n))
	binary.BigEndian.PutUint32(rec[4:8], crc32.ChecksumIEEE(rec[0:4]))
	nonce := rec[recordPrefixSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, pos, fmt.Errorf("nonce: %w", err)
	}
	rec = aead.Seal(rec, nonce, plaintext, recordAD(gen, pos.seq+1, &pos.prev, rec[0:4]))
	next := journalPos{off: pos.off + int64(len(rec)), seq: pos.seq + 1}
	copy(next.prev[:], rec[len(rec)-recordTagSize:])
	return rec, next, nil
}

// readRecords authenticates and decodes the records in b, which starts at
// pos.off in the file, calling apply for each, and returns the position
// after the last whole record. A torn tail ends the reading without an
// error; a damaged record is an error, with the position before it.
func readRecords(key *[vaultKeySize]byte, gen *[genSize]byte, b []byte, pos journalPos, apply func(*vaultChange)) (journalPos, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return pos, err
	}
	for len(b) > 0 {
		if len(b) < recordPrefixSize || allZero(b) {
			return pos, nil // torn tail
		}
		n := binary.BigEndian.Uint32(b[0:4])
		if crc32.ChecksumIEEE(b[0:4]) != binary.BigEndian.Uint32(b[4:8]) || n < recordTagSize || n > maxRecordBytes {
			return pos, damaged(pos, "its length field is corrupt")
		}
		size := recordPrefixSize + recordNonceSize + int(n)
		if len(b) < size {
			return pos, nil // torn tail
		}
		nonce := b[recordPrefixSize : recordPrefixSize+recordNonceSize]
		pt, err := aead.Open(nil, nonce, b[recordPrefixSize+recordNonceSize:size], recordAD(gen, pos.seq+1, &pos.prev, b[0:4]))
		if err != nil {
			return pos, damaged(pos, "it fails authentication (altered, reordered, spliced or from another vault)")
		}
		c, err := decodeChange(pt)
		clear(pt)
		if err != nil {
			return pos, damaged(pos, "its content is malformed")
		}
		apply(c)
		pos.off += int64(size)
		pos.seq++
		copy(pos.prev[:], b[size-recordTagSize:size])
		b = b[size:]
	}
	return pos, nil
}

// damaged says which record, why, and the two ways to open the vault
// anyway, both by hand: the records before the damage are intact.
func damaged(pos journalPos, why string) error {
	return fmt.Errorf("%w: record %d at byte %d: %s; that write and any after it cannot be read; "+
		"to open the vault with the %d writes before it, cut %s there (truncate -s %d), "+
		"or move the file aside to open the vault as its last snapshot holds it",
		errJournalDamaged, pos.seq+1, pos.off, why, pos.seq, VaultJournalFileName, pos.off)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// replayJournal reads the journal beside the snapshot of generation gen,
// continuing from j (from the start when j is not live), applies its new
// records to data and returns its new state. With an error the state
// still says how far the records applied go.
func (v *Vault) replayJournal(key *[vaultKeySize]byte, gen *[genSize]byte, data vaultData, j journalState) (journalState, error) {
	f, err := os.Open(v.journalPath)
	if errors.Is(err, fs.ErrNotExist) {
		return journalState{}, nil
	}
	if err != nil {
		return j, fmt.Errorf("read vault journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return j, fmt.Errorf("read vault journal: %w", err)
	}
	from := j.pos
	if !j.live {
		hdr := make([]byte, journalHeaderSize)
		if _, err := f.ReadAt(hdr, 0); err != nil || string(hdr[:8]) != journalMagic ||
			binary.BigEndian.Uint16(hdr[8:10]) != journalVersion {
			return j, fmt.Errorf("%w: its header is not a journal header; move %s aside to open the vault as its last snapshot holds it",
				errJournalDamaged, VaultJournalFileName)
		}
		if string(hdr[10:]) != string(gen[:]) {
			return journalState{disk: st}, nil // left by an interrupted compaction
		}
		from = journalPos{off: journalHeaderSize}
	}
	if st.Size() < from.off {
		return j, fmt.Errorf("%w: it is shorter than the records already read from it", errJournalDamaged)
	}
	buf := make([]byte, st.Size()-from.off)
	if _, err := f.ReadAt(buf, from.off); err != nil && !errors.Is(err, io.EOF) {
		return j, fmt.Errorf("read vault journal: %w", err)
	}
	var cs []*vaultChange
	pos, err := readRecords(key, gen, buf, from, func(c *vaultChange) { cs = append(cs, c) })
	data.applyAll(cs)
	return journalState{disk: st, live: true, pos: pos}, err
}

// startJournalLocked replaces whatever journal there is by an empty one
// for the current snapshot. The caller holds v.mu and the file lock.
func (v *Vault) startJournalLocked() error {
	if _, err := atomicfile.WriteFile(v.journalPath, journalHeader(&v.hdr.nonce), 0o600); err != nil {
		// Whatever is there now, the next refresh reads it again.
		v.j = journalState{disk: statOrNil(v.journalPath)}
		return err
	}
	v.j = journalState{disk: statOrNil(v.journalPath), live: true, pos: journalPos{off: journalHeaderSize}}
	if v.j.disk == nil {
		return errors.New("vault journal vanished after it was written")
	}
	return nil
}

// appendLocked writes c (encoded as pt) as the next journal record and,
// once it is synced, applies it to the vault in memory. A torn tail left by
// a killed writer is cut off first. When the append fails, the record is
// cut off again, so the disk and memory both stay without it. The caller
// holds v.mu and the file lock, on an up-to-date vault.
func (v *Vault) appendLocked(c *vaultChange, pt []byte) error {
	if !v.j.live {
		if err := v.startJournalLocked(); err != nil {
			return fmt.Errorf("start vault journal: %w", err)
		}
	}
	f, err := os.OpenFile(v.journalPath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open vault journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open vault journal: %w", err)
	}
	if !os.SameFile(st, v.j.disk) {
		v.disk = nil // reload everything before the next use
		return errors.New("vault journal was replaced while locked")
	}
	if st.Size() > v.j.pos.off {
		if err := f.Truncate(v.j.pos.off); err != nil {
			return fmt.Errorf("cut torn tail of vault journal: %w", err)
		}
	}
	rec, next, err := sealRecord(v.key, &v.hdr.nonce, v.j.pos, pt)
	if err != nil {
		return fmt.Errorf("encrypt vault journal record: %w", err)
	}
	if err := writeJournalRecord(f, rec, v.j.pos.off); err != nil {
		if terr := f.Truncate(v.j.pos.off); terr != nil || f.Sync() != nil {
			v.disk = nil // the record may be there: read the disk again before the next use
		}
		v.j.disk = statOrNil(v.journalPath)
		return fmt.Errorf("write vault journal: %w", err)
	}
	if st, err = f.Stat(); err != nil {
		st = nil // forces a reload before the next use
	}
	v.j.disk, v.j.pos = st, next
	v.data.apply(c)
	return nil
}

// shouldSnapshot reports whether a change whose encoding is n bytes is
// written as a new snapshot rather than appended: a version 1 snapshot is
// carried forward first (its readers would ignore a journal), and a
// journal that would pass its bound is compacted.
func (v *Vault) shouldSnapshot(n int) bool {
	if v.hdr.version != vaultVersion || v.disk == nil || n+recordTagSize > maxRecordBytes {
		return true
	}
	end := int64(journalHeaderSize)
	if v.j.live {
		end = v.j.pos.off
	}
	return end+int64(recordOverhead+n) > max(compactMinBytes, v.disk.Size()>>compactShift)
}

// journalStale reports whether the journal on disk is not the one this
// process last read or wrote.
func (v *Vault) journalStale() bool {
	st := statOrNil(v.journalPath)
	if st == nil || v.j.disk == nil {
		return (st == nil) != (v.j.disk == nil)
	}
	return !os.SameFile(st, v.j.disk) || st.Size() != v.j.disk.Size() || !st.ModTime().Equal(v.j.disk.ModTime())
}

// journalContinues reports whether the journal on disk extends the one
// this process read, so reading its new records brings memory up to date;
// otherwise (removed, replaced, cut shorter) the vault is read again whole.
func (v *Vault) journalContinues() bool {
	if !v.j.live {
		return true
	}
	st := statOrNil(v.journalPath)
	return st != nil && v.j.disk != nil && os.SameFile(st, v.j.disk) && st.Size() >= v.j.pos.off
}

func statOrNil(path string) os.FileInfo {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return st
}
