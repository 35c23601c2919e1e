package backend

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/keychain-auth/keychain-auth/secret"
)

// On-disk layout of a vault file (the snapshot), versions 1 and 2. Every
// integer is big-endian.
//
//	offset size field
//	0      8    magic "KCAVAULT"
//	8      2    format version (1 or 2)
//	10     1    mode: 1 key file, 2 passphrase
//	11     1    Argon2id threads (0 in key-file mode)
//	12     4    Argon2id passes (0 in key-file mode)
//	16     4    Argon2id memory in KiB (0 in key-file mode)
//	20     16   salt (zero in key-file mode)
//	36     24   XChaCha20-Poly1305 nonce, fresh for every write
//	60     ...  sealed payload (see encodePayload) + 16-byte tag
//
// The whole 60-byte header is the AEAD's associated data, so a changed
// mode, KDF parameter, salt or version fails decryption like a changed
// ciphertext byte does.
//
// Version 2 has the same layout; it says that a journal (vault_journal.go)
// may carry writes made after this snapshot. Version 1 files, written
// before the journal existed, are read as they are and rewritten as version
// 2 by their first write, so that a binary that knows only version 1
// refuses the vault instead of silently ignoring its journal.
const (
	vaultMagic     = "KCAVAULT"
	vaultVersion   = 2
	vaultVersionV1 = 1
	headerSize     = 60
	saltSize       = 16
	vaultKeySize   = chacha20poly1305.KeySize
	modeKeyFile    = 1
	modePassphrase = 2
)

// Limits on KDF parameters read from a file, so a planted vault cannot make
// the daemon allocate gigabytes or spin for minutes before failing.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 1 << 20 // 1 GiB
)

// ErrBadPassphrase: decryption failed, because the passphrase (or key file)
// is wrong or because the file was altered. AEAD cannot tell these apart.
var ErrBadPassphrase = errors.New("wrong passphrase or damaged vault")

// kdfParams are the Argon2id cost parameters stored in a passphrase vault.
type kdfParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// defaultKDF is what new passphrase vaults use: 64 MiB, two passes, two
// lanes (0.15-0.4 s measured on a shared 2-core CI machine; three passes
// went past 0.6 s there). Tests replace it with cheap parameters; existing
// vaults keep whatever their header says.
var defaultKDF = kdfParams{Time: 2, MemoryKiB: 64 << 10, Threads: 2}

// header is the plaintext part of a vault file. version is what the file
// said; marshal always writes vaultVersion.
type header struct {
	version uint16
	mode    byte
	kdf     kdfParams
	salt    [saltSize]byte
	nonce   [chacha20poly1305.NonceSizeX]byte
}

func (h *header) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b, vaultMagic)
	binary.BigEndian.PutUint16(b[8:], vaultVersion)
	b[10] = h.mode
	b[11] = h.kdf.Threads
	binary.BigEndian.PutUint32(b[12:], h.kdf.Time)
	binary.BigEndian.PutUint32(b[16:], h.kdf.MemoryKiB)
	copy(b[20:36], h.salt[:])
	copy(b[36:60], h.nonce[:])
	return b
}

func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize+chacha20poly1305.Overhead || string(b[:8]) != vaultMagic {
		return h, errors.New("not a keychain-auth vault file")
	}
	h.version = binary.BigEndian.Uint16(b[8:])
	if h.version != vaultVersion && h.version != vaultVersionV1 {
		return h, fmt.Errorf("unsupported vault format version %d", h.version)
	}
	h.mode = b[10]
	h.kdf = kdfParams{
		Threads:   b[11],
		Time:      binary.BigEndian.Uint32(b[12:]),
		MemoryKiB: binary.BigEndian.Uint32(b[16:]),
	}
	copy(h.salt[:], b[20:36])
	copy(h.nonce[:], b[36:60])
	return h, h.validate()
}

func (h *header) validate() error {
	switch h.mode {
	case modeKeyFile:
		if h.kdf != (kdfParams{}) || h.salt != ([saltSize]byte{}) {
			return errors.New("key-file vault header carries KDF parameters")
		}
		return nil
	case modePassphrase:
		k := h.kdf
		if k.Time < 1 || k.Time > maxKDFTime || k.Threads < 1 ||
			k.MemoryKiB < 8*uint32(k.Threads) || k.MemoryKiB > maxKDFMemoryKiB {
			return fmt.Errorf("vault KDF parameters out of range (t=%d m=%dKiB p=%d)", k.Time, k.MemoryKiB, k.Threads)
		}
		return nil
	default:
		return fmt.Errorf("unknown vault mode %d", h.mode)
	}
}

// newPassphraseHeader starts a passphrase header with a fresh random salt.
func newPassphraseHeader() (header, error) {
	h := header{mode: modePassphrase, kdf: defaultKDF}
	if _, err := rand.Read(h.salt[:]); err != nil {
		return h, fmt.Errorf("salt: %w", err)
	}
	return h, nil
}

// deriveKey runs Argon2id over the passphrase with the header's parameters.
func deriveKey(pass secret.Value, h *header) *[vaultKeySize]byte {
	p := []byte(pass.Reveal())
	k := argon2.IDKey(p, h.salt[:], h.kdf.Time, h.kdf.MemoryKiB, h.kdf.Threads, vaultKeySize)
	clear(p)
	var key [vaultKeySize]byte
	copy(key[:], k)
	clear(k)
	return &key
}

// seal encrypts plaintext under key with a fresh nonce and returns the
// whole file (current version) and the header written into it.
func seal(key *[vaultKeySize]byte, h header, plaintext []byte) ([]byte, header, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, h, err
	}
	if _, err := rand.Read(h.nonce[:]); err != nil {
		return nil, h, fmt.Errorf("nonce: %w", err)
	}
	h.version = vaultVersion
	ad := h.marshal()
	out := make([]byte, 0, len(ad)+len(plaintext)+aead.Overhead())
	out = append(out, ad...)
	return aead.Seal(out, h.nonce[:], plaintext, ad), h, nil
}

// open authenticates and decrypts a whole vault file whose header h was
// parsed from it.
func open(key *[vaultKeySize]byte, file []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	ad := file[:headerSize]
	nonce := ad[36:60]
	pt, err := aead.Open(nil, nonce, file[headerSize:], ad)
	if err != nil {
		return nil, ErrBadPassphrase
	}
	return pt, nil
}

// sameKeyMaterial reports whether two headers derive the same key from the
// same passphrase (or both use the key file).
func sameKeyMaterial(a, b *header) bool {
	return a.mode == b.mode && a.kdf == b.kdf && bytes.Equal(a.salt[:], b.salt[:])
}
