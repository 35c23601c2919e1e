//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"

	"github.com/godbus/dbus/v5"
)

// Transfer encryption of the Secret Service ("dh-ietf1024-sha256-aes128-cbc-pkcs7"):
// a Diffie-Hellman exchange over the 1024-bit MODP group of RFC 2409
// (second Oakley group), HKDF-SHA256 without salt or info to a 128-bit key,
// then AES-128-CBC with PKCS#7 padding and a random IV per secret.
//
// It keeps values out of bus monitors and logs; it is unauthenticated and
// does not protect against a process that can impersonate the provider on
// the bus (a same-user process can). The "plain" algorithm is used only when
// the provider refuses this one, and the store says so in Info.
const (
	algDH    = "dh-ietf1024-sha256-aes128-cbc-pkcs7"
	algPlain = "plain"
)

// modp1024 is the RFC 2409 second Oakley group prime; the generator is 2.
var modp1024, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"+
		"FFFFFFFFFFFFFFFF", 16)

const modpBytes = 128

// ssSession is an open transfer session: its path on the bus and, for the
// DH algorithm, the AES key (nil for plain).
type ssSession struct {
	path dbus.ObjectPath
	key  []byte
}

func (s *ssSession) encrypted() bool { return s.key != nil }

// dhKeypair returns a private exponent and the public value 2^x mod p.
func dhKeypair() (priv, pub *big.Int, err error) {
	// x in [2, p-2]
	limit := new(big.Int).Sub(modp1024, big.NewInt(3))
	priv, err = rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("dh key: %w", err)
	}
	priv.Add(priv, big.NewInt(2))
	return priv, new(big.Int).Exp(big.NewInt(2), priv, modp1024), nil
}

// dhSessionKey derives the AES key from the provider's public value.
func dhSessionKey(priv *big.Int, theirs []byte) ([]byte, error) {
	y := new(big.Int).SetBytes(theirs)
	pMinus1 := new(big.Int).Sub(modp1024, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
		return nil, errors.New("dh: provider's public value out of range")
	}
	shared := new(big.Int).Exp(y, priv, modp1024)
	// The provider hashes the shared secret at the prime's full width, so
	// keep its leading zero bytes (big.Int.Bytes would drop them and derive
	// a different key once in 256 sessions).
	ikm := shared.FillBytes(make([]byte, modpBytes))
	return hkdf.Key(sha256.New, ikm, nil, "", 16)
}

func padBytes(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

// seal encrypts v for the provider.
func (s *ssSession) seal(v []byte) (ssSecret, error) {
	out := ssSecret{Session: s.path, ContentType: "text/plain"}
	if !s.encrypted() {
		out.Parameters = []byte{}
		out.Value = bytes.Clone(v)
		return out, nil
	}
	block, err := aes.NewCipher(s.key)
	if err != nil {
		return ssSecret{}, err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return ssSecret{}, fmt.Errorf("iv: %w", err)
	}
	n := aes.BlockSize - len(v)%aes.BlockSize
	buf := append(bytes.Clone(v), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	out.Parameters, out.Value = iv, buf
	return out, nil
}

// open decrypts a secret from the provider. Any malformed input is an
// error: a value that cannot be decrypted must never read as empty.
func (s *ssSession) open(sec ssSecret) ([]byte, error) {
	if sec.Session != s.path {
		return nil, errors.New("secret belongs to another session")
	}
	if !s.encrypted() {
		return bytes.Clone(sec.Value), nil
	}
	if len(sec.Parameters) != aes.BlockSize {
		return nil, errors.New("decrypt secret: bad iv length")
	}
	if len(sec.Value) == 0 || len(sec.Value)%aes.BlockSize != 0 {
		return nil, errors.New("decrypt secret: bad ciphertext length")
	}
	block, err := aes.NewCipher(s.key)
	if err != nil {
		return nil, err
	}
	buf := bytes.Clone(sec.Value)
	cipher.NewCBCDecrypter(block, sec.Parameters).CryptBlocks(buf, buf)
	return unpadPKCS7(buf)
}

func unpadPKCS7(buf []byte) ([]byte, error) {
	n := int(buf[len(buf)-1])
	if n == 0 || n > aes.BlockSize || n > len(buf) {
		return nil, errors.New("decrypt secret: bad padding")
	}
	pad := bytes.Repeat([]byte{byte(n)}, n)
	if subtle.ConstantTimeCompare(buf[len(buf)-n:], pad) != 1 {
		return nil, errors.New("decrypt secret: bad padding")
	}
	return buf[:len(buf)-n], nil
}

// openSession negotiates transfer encryption, falling back to plain only
// when the provider answers that it does not support the DH algorithm.
func openSession(b *ssBus) (*ssSession, error) {
	priv, pub, err := dhKeypair()
	if err != nil {
		return nil, err
	}
	var out dbus.Variant
	var path dbus.ObjectPath
	err = b.call(ssPath, ssService+".OpenSession",
		[]any{algDH, dbus.MakeVariant(padBytes(pub.Bytes(), modpBytes))}, &out, &path)
	if isNotSupported(err) {
		return openPlainSession(b)
	}
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	theirs, ok := out.Value().([]byte)
	if !ok {
		return nil, errors.New("open session: provider sent no public key")
	}
	key, err := dhSessionKey(priv, theirs)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return &ssSession{path: path, key: key}, nil
}

func openPlainSession(b *ssBus) (*ssSession, error) {
	var out dbus.Variant
	var path dbus.ObjectPath
	if err := b.call(ssPath, ssService+".OpenSession", []any{algPlain, dbus.MakeVariant("")}, &out, &path); err != nil {
		return nil, fmt.Errorf("open plain session: %w", err)
	}
	return &ssSession{path: path}, nil
}
