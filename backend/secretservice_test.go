//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Tests against a real Secret Service run only inside
// scripts/with-secret-service.sh (a throwaway bus and gnome-keyring), which
// sets this variable. Without it they skip: a developer's own session bus
// and keyring are never touched.
const ssOptIn = "KEYCHAIN_AUTH_TEST_SECRET_SERVICE"

// testKeyringPassword is the throwaway unlock password the script uses
// unless KEYCHAIN_AUTH_TEST_KEYRING_PASSWORD overrides it.
const testKeyringPassword = "keychain-auth-test-keyring"

func requireSecretService(t *testing.T) string {
	t.Helper()
	if os.Getenv(ssOptIn) != "1" {
		t.Skip("real Secret Service tests need " + ssOptIn + "=1; run them with scripts/with-secret-service.sh go test ./backend/")
	}
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		t.Fatal(ssOptIn + "=1 but DBUS_SESSION_BUS_ADDRESS is not set")
	}
	return addr
}

func openTestSecretService(t *testing.T) *SecretService {
	t.Helper()
	s, err := openSecretService(requireSecretService(t), true)
	if err != nil {
		t.Fatalf("openSecretService: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// plantForeignSecretServiceItem writes, into the same default collection,
// items of other applications under what they call service and key: one as
// secret-tool would store it, one that copies keychain-auth's service and
// key attributes but not its application marker.
func plantForeignSecretServiceItem(t *testing.T, service, key string) {
	s := openTestSecretService(t)
	planted := []map[string]string{
		{"xdg:schema": "org.freedesktop.Secret.Generic", "service": service, "username": key},
		{attrApplication: "other-app", attrService: service, attrKey: key},
		{attrService: service, attrKey: key},
	}
	for _, attrs := range planted {
		sec, err := s.sess.seal([]byte("foreign-value"))
		if err != nil {
			t.Fatal(err)
		}
		props := map[string]dbus.Variant{
			ssItem + ".Label":      dbus.MakeVariant("foreign " + key),
			ssItem + ".Attributes": dbus.MakeVariant(attrs),
		}
		var item, prompt dbus.ObjectPath
		if err := s.bus.call(s.collection, ssCollection+".CreateItem", []any{props, sec, true}, &item, &prompt); err != nil {
			t.Fatalf("plant foreign item: %v", err)
		}
		t.Cleanup(func() { _ = s.deletePath(item) })
	}
}

func TestSecretServiceUsesEncryptedSessionAndDefaultAlias(t *testing.T) {
	s := openTestSecretService(t)
	if !s.sess.encrypted() {
		t.Fatal("gnome-keyring supports dh-ietf1024-sha256-aes128-cbc-pkcs7 but the session is plain")
	}
	if w := s.Info().Warning; w != "" {
		t.Errorf("Info().Warning = %q, want none with an encrypted session", w)
	}
	var viaAlias dbus.ObjectPath
	if err := s.bus.call(ssPath, ssService+".ReadAlias", []any{"default"}, &viaAlias); err != nil {
		t.Fatal(err)
	}
	if s.collection != viaAlias || viaAlias == ssNoPrompt {
		t.Fatalf("collection = %s, default alias = %s", s.collection, viaAlias)
	}
}

func TestSecretServiceItemLayout(t *testing.T) {
	s := openTestSecretService(t)
	const svc, key = "layout-test", "k:1/ü"
	val := secret.New("layout-value-marker")
	it := Item{Key: key, Value: val, Attributes: map[string]string{"application": "spoof", "user": "x"}}
	if err := s.Set(svc, []Item{it}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Delete(svc, []string{key}) })
	paths, err := s.search(svc, ptr(key))
	if err != nil || len(paths) != 1 {
		t.Fatalf("search = %v, %v; want one item", paths, err)
	}
	var attrs map[string]string
	var label string
	if err := s.bus.getProperty(paths[0], ssItem, "Attributes", &attrs); err != nil {
		t.Fatal(err)
	}
	if err := s.bus.getProperty(paths[0], ssItem, "Label", &label); err != nil {
		t.Fatal(err)
	}
	if attrs[attrApplication] != appName || attrs[attrUserPrefix+"application"] != "spoof" {
		t.Errorf("stored attributes %v: the user's application attribute must not replace ours", attrs)
	}
	if strings.Contains(label, val.Reveal()) {
		t.Errorf("label %q contains the value", label)
	}
	got, err := s.Get(svc, key)
	if err != nil || got.Value != val || got.Attributes["application"] != "spoof" || len(got.Attributes) != 2 {
		t.Fatalf("Get = %+v, %v", got.Attributes, err)
	}
}

func ptr(s string) *string { return &s }

// TestSecretServiceLocked locks the default collection through the Secret
// Service API and checks that every operation, and Open, report ErrLocked
// (not ErrNotFound, not an empty list), and that auto falls back to the file
// vault saying why. It unlocks again with gnome-keyring's own password
// interface (Unlock would need a GUI prompt).
func TestSecretServiceLocked(t *testing.T) {
	s := openTestSecretService(t)
	const svc = "locked-test"
	if err := s.Set(svc, []Item{{Key: "k", Value: secret.New("v")}}); err != nil {
		t.Fatal(err)
	}
	lockCollection(t, s)
	t.Cleanup(func() {
		unlockCollection(t, s)
		_ = s.Delete(svc, []string{"k"})
	})

	if _, err := s.Get(svc, "k"); !errors.Is(err, ErrLocked) {
		t.Errorf("Get on a locked collection: %v, want ErrLocked", err)
	}
	if _, err := s.Get(svc, "missing"); !errors.Is(err, ErrLocked) || errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key on a locked collection: %v, want ErrLocked only", err)
	}
	if items, err := s.List(svc, "", false); !errors.Is(err, ErrLocked) {
		t.Errorf("List on a locked collection: %d items, %v; want ErrLocked", len(items), err)
	}
	if err := s.Set(svc, []Item{{Key: "k2", Value: secret.New("v")}}); !errors.Is(err, ErrLocked) {
		t.Errorf("Set on a locked collection: %v, want ErrLocked", err)
	}
	if err := s.Delete(svc, []string{"k"}); !errors.Is(err, ErrLocked) {
		t.Errorf("Delete on a locked collection: %v, want ErrLocked", err)
	}
	if _, err := openSecretService(requireSecretService(t), false); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("open on a locked collection: %v, want a clear ErrLocked", err)
	}
	if _, _, err := Open(NameSecretService, Options{DataDir: t.TempDir()}); !errors.Is(err, ErrLocked) {
		t.Errorf("Open(secret-service) on a locked collection: %v, want ErrLocked, never a fallback", err)
	}
	st, sel, err := Open(NameAuto, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Open(auto) with a locked keyring: %v", err)
	}
	defer st.Close()
	if sel.Name != NameFile || !strings.Contains(sel.Reason, "locked") {
		t.Errorf("Open(auto) with a locked keyring chose %q because %q; want file, saying locked", sel.Name, sel.Reason)
	}
}

func TestSecretServiceAutoPicksUnlockedKeyring(t *testing.T) {
	requireSecretService(t)
	st, sel, err := Open(NameAuto, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if sel.Name != NameSecretService || st.Info().Name != NameSecretService || st.Info().AtomicBatch {
		t.Fatalf("auto chose %q (%s), info %+v; want the unlocked secret service, non-atomic", sel.Name, sel.Reason, st.Info())
	}
}

func lockCollection(t *testing.T, s *SecretService) {
	t.Helper()
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := s.bus.call(ssPath, ssService+".Lock", []any{[]dbus.ObjectPath{s.collection}}, &locked, &prompt); err != nil {
		t.Fatalf("lock collection: %v", err)
	}
	if err := s.bus.prompt(prompt); err != nil {
		t.Fatalf("lock prompt: %v", err)
	}
}

func unlockCollection(t *testing.T, s *SecretService) {
	t.Helper()
	pw := os.Getenv("KEYCHAIN_AUTH_TEST_KEYRING_PASSWORD")
	if pw == "" {
		pw = testKeyringPassword
	}
	sec, err := s.sess.seal([]byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	const iface = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
	if err := s.bus.call(ssPath, iface+".UnlockWithMasterPassword", []any{s.collection, sec}); err != nil {
		t.Fatalf("unlock the test keyring again: %v", err)
	}
	if err := s.checkUnlocked(); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

// Without a session bus address, the Secret Service is never tried: no
// autolaunch, no guessing of /run/user/UID/bus.
func TestSecretServiceNoBusAddress(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("PATH", t.TempDir()) // a dbus-launch here would be found and run by a careless client
	if _, err := openSecretService("", true); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open without an address: %v, want ErrUnavailable", err)
	}
	if _, _, err := Open(NameSecretService, Options{DataDir: t.TempDir()}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open(secret-service) without an address: %v, want ErrUnavailable", err)
	}
}

func TestSecretServiceRefusesNonUnixBus(t *testing.T) {
	for _, addr := range []string{"tcp:host=127.0.0.1,port=1", "unix:path=/nonexistent;tcp:host=localhost,port=1", "autolaunch:"} {
		if _, err := openSecretService(addr, true); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not a unix socket") {
			t.Errorf("address %q: %v, want a refusal", addr, err)
		}
	}
}

// A provider reached at a socket with nothing behind it is unavailable.
func TestSecretServiceDeadBus(t *testing.T) {
	addr := "unix:path=" + t.TempDir() + "/no-bus"
	if _, err := openSecretService(addr, true); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("dead bus: %v, want ErrUnavailable", err)
	}
}

// The transfer encryption, both ends played locally: the provider's side
// is a second key pair deriving the same key.
func TestSessionCryptoRoundTrip(t *testing.T) {
	a, b := testSessionPair(t)
	for _, n := range []int{0, 1, 15, 16, 17, 64 << 10} {
		v := bytes.Repeat([]byte{'x'}, n)
		sec, err := a.seal(v)
		if err != nil {
			t.Fatal(err)
		}
		// A short plaintext turns up by chance in random-looking bytes
		// (one byte: about one run in sixteen); from a block on it cannot.
		if n >= 16 && bytes.Contains(sec.Value, v) {
			t.Fatalf("len %d: ciphertext contains the plaintext", n)
		}
		got, err := b.open(sec)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("len %d: open = %d bytes, %v", n, len(got), err)
		}
	}
}

// A secret that fails to decrypt is an error, never an empty value (the
// pitfall of the keybase secretservice package).
func TestSessionCryptoRejectsBadSecrets(t *testing.T) {
	a, b := testSessionPair(t)
	good, err := a.seal([]byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(*ssSecret)) ssSecret {
		s := good
		s.Parameters = bytes.Clone(good.Parameters)
		s.Value = bytes.Clone(good.Value)
		f(&s)
		return s
	}
	bad := map[string]ssSecret{
		"flipped last block": tamper(func(s *ssSecret) { s.Value[len(s.Value)-1] ^= 0x55 }),
		"short iv":           tamper(func(s *ssSecret) { s.Parameters = s.Parameters[:8] }),
		"empty ciphertext":   tamper(func(s *ssSecret) { s.Value = nil }),
		"partial block":      tamper(func(s *ssSecret) { s.Value = s.Value[:10] }),
		"other session":      tamper(func(s *ssSecret) { s.Session = "/org/freedesktop/secrets/session/other" }),
	}
	for name, sec := range bad {
		got, err := b.open(sec)
		if err == nil {
			t.Errorf("%s: open succeeded with %d bytes, want an error", name, len(got))
		}
	}
}

func TestDHKeyKeepsLeadingZeros(t *testing.T) {
	// A shared secret below 2^1016 has a leading zero byte at full width;
	// the provider hashes all 128 bytes.
	priv := big.NewInt(1)
	theirs := big.NewInt(2).Bytes() // shared = 2^1 mod p = 2
	k, err := dhSessionKey(priv, theirs)
	if err != nil {
		t.Fatal(err)
	}
	short, err := dhSessionKeyUnpadded(priv, theirs)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k, short) {
		t.Fatal("the key ignores the leading zero bytes of the shared secret")
	}
}

func testSessionPair(t *testing.T) (*ssSession, *ssSession) {
	t.Helper()
	privA, pubA, err := dhKeypair()
	if err != nil {
		t.Fatal(err)
	}
	privB, pubB, err := dhKeypair()
	if err != nil {
		t.Fatal(err)
	}
	kA, err := dhSessionKey(privA, pubB.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	kB, err := dhSessionKey(privB, pubA.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kA, kB) {
		t.Fatal("the two ends derived different keys")
	}
	const path = "/org/freedesktop/secrets/session/test"
	return &ssSession{path: path, key: kA}, &ssSession{path: path, key: kB}
}

// dhSessionKeyUnpadded is the weakened derivation (big.Int.Bytes drops
// leading zeros) the test above must tell apart from the real one.
func dhSessionKeyUnpadded(priv *big.Int, theirs []byte) ([]byte, error) {
	shared := new(big.Int).Exp(new(big.Int).SetBytes(theirs), priv, modp1024)
	return hkdf.Key(sha256.New, shared.Bytes(), nil, "", 16)
}

// TestSecretServiceManySessions reads one value through many fresh DH
// sessions: about one in 256 shared secrets has a leading zero byte, so a
// key derivation that disagrees with the provider's fails here.
func TestSecretServiceManySessions(t *testing.T) {
	s := openTestSecretService(t)
	const svc, key = "sessions-test", "k"
	want := secret.New("many-sessions-value")
	if err := s.Set(svc, []Item{{Key: key, Value: want}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Delete(svc, []string{key}) })
	paths, err := s.search(svc, ptr(key))
	if err != nil || len(paths) != 1 {
		t.Fatalf("search: %v %v", paths, err)
	}
	for i := range 600 {
		sess, err := openSession(s.bus)
		if err != nil {
			t.Fatal(err)
		}
		var sec ssSecret
		if err := s.bus.call(paths[0], ssItem+".GetSecret", []any{sess.path}, &sec); err != nil {
			t.Fatal(err)
		}
		got, err := sess.open(sec)
		_ = s.bus.call(sess.path, "org.freedesktop.Secret.Session.Close", nil)
		if err != nil || string(got) != want.Reveal() {
			t.Fatalf("session %d: read %d bytes, %v", i, len(got), err)
		}
	}
}

// godbus's own session-bus lookup runs dbus-launch when no address is set
// (the canary shows it here with a fake dbus-launch that leaves a marker);
// Open, auto or named, must never do that.
func TestOpenNeverAutolaunchesABus(t *testing.T) {
	bin := t.TempDir()
	marker := bin + "/launched"
	script := "#!/bin/sh\n: > " + marker + "\nexit 1\n"
	if err := os.WriteFile(bin+"/dbus-launch", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())

	if _, err := os.Stat("/run/user/" + strconv.Itoa(os.Getuid()) + "/bus"); err == nil {
		t.Skip("a bus socket exists in /run/user; godbus would use it instead of autolaunching, so the canary cannot run")
	}
	if conn, err := dbus.ConnectSessionBus(); err == nil {
		_ = conn.Close()
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("canary: godbus's ConnectSessionBus did not run the fake dbus-launch (%v); the test cannot see an autolaunch", err)
	}
	_ = os.Remove(marker)

	for _, name := range []string{NameAuto, NameSecretService} {
		s, _, _ := Open(name, Options{DataDir: t.TempDir()})
		if s != nil {
			_ = s.Close()
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("Open(%s) ran dbus-launch", name)
		}
	}
}
