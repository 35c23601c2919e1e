package backend

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/keychain-auth/keychain-auth/secret"
)

// Backend names for --backend and KEYCHAIN_AUTH_BACKEND.
const (
	// NameAuto picks the platform's native store when it is reachable and
	// unlocked, else the file vault.
	NameAuto = "auto"
	// NameFile is the encrypted file vault (OpenVault).
	NameFile = "file"
	// NameSecretService is the freedesktop.org Secret Service (Linux, BSD).
	NameSecretService = "secret-service"
	// NameKeychain is the macOS Keychain (darwin builds with cgo).
	NameKeychain = "keychain"
	// NameWincred is the Windows Credential Manager.
	NameWincred = "wincred"
)

// Names lists the valid backend names, auto first, for help texts.
func Names() []string {
	return []string{NameAuto, NameFile, NameSecretService, NameKeychain, NameWincred}
}

// Options configure Open.
type Options struct {
	// DataDir is the directory of the file vault.
	DataDir string
	// Passphrase protects the file vault; empty means key-file mode.
	Passphrase secret.Value
	// LockedWithoutPassphrase opens a passphrase vault locked when
	// Passphrase is empty (VaultOptions.LockedWithoutPassphrase).
	LockedWithoutPassphrase bool
}

// Selection says which store Open chose and why, for the daemon's log and
// `status`.
type Selection struct {
	// Requested is the name asked for ("auto" when empty was given).
	Requested string
	// Name is the store opened (never "auto").
	Name string
	// Reason explains the choice in one line (never holds a secret).
	Reason string
}

// Open opens the store called name (one of Names; empty means auto).
//
// A named store that cannot be used (not compiled in, no session bus,
// locked) is an error, never a silent fallback to another store. Only auto
// falls back, from the platform's native store to the file vault, and the
// Selection says why. An unknown name is an error that lists the valid ones.
//
// Open is for the daemon and offline admin commands: it may connect to the
// session bus. On Linux that happens only when DBUS_SESSION_BUS_ADDRESS is
// set; no bus is ever searched for or launched.
func Open(name string, opts Options) (Store, Selection, error) {
	if name == "" {
		name = NameAuto
	}
	if !slices.Contains(Names(), name) {
		return nil, Selection{}, fmt.Errorf("unknown backend %q (valid: %s)", name, strings.Join(Names(), ", "))
	}
	if name == NameAuto {
		return openAuto(opts)
	}
	s, err := openNamed(name, opts, true)
	if err != nil {
		return nil, Selection{}, fmt.Errorf("backend %s: %w", name, err)
	}
	return s, Selection{Requested: name, Name: name, Reason: "requested by name"}, nil
}

// nativeName is the store auto tries first on this platform ("" if none).
func nativeName() string {
	switch runtime.GOOS {
	case "linux", "freebsd", "netbsd", "openbsd", "dragonfly":
		return NameSecretService
	case "darwin":
		return NameKeychain
	case "windows":
		return NameWincred
	}
	return ""
}

func openAuto(opts Options) (Store, Selection, error) {
	sel := Selection{Requested: NameAuto, Name: NameFile}
	native := nativeName()
	switch {
	case native == "":
		sel.Reason = "no native secret store on " + runtime.GOOS
	case native == NameSecretService && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "":
		sel.Reason = "DBUS_SESSION_BUS_ADDRESS is not set, so the secret service was not tried"
	default:
		// Probing must not activate a provider that is not running.
		s, err := openNamed(native, opts, false)
		if err == nil {
			sel.Name, sel.Reason = native, native+" is reachable and unlocked"
			return s, sel, nil
		}
		sel.Reason = native + " not used: " + err.Error()
	}
	s, err := openNamed(NameFile, opts, false)
	if err != nil {
		return nil, Selection{}, fmt.Errorf("backend auto (%s): file vault: %w", sel.Reason, err)
	}
	return s, sel, nil
}

// openNamed opens one concrete store. explicit is true when the user named
// it (the Secret Service may then be activated on the bus).
func openNamed(name string, opts Options, explicit bool) (Store, error) {
	switch name {
	case NameFile:
		if opts.DataDir == "" {
			return nil, errors.New("no data directory for the file vault")
		}
		return OpenVault(opts.DataDir, VaultOptions{Passphrase: opts.Passphrase, LockedWithoutPassphrase: opts.LockedWithoutPassphrase})
	case NameSecretService:
		return openSecretServiceStore(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), explicit)
	case NameKeychain:
		return openKeychainStore()
	case NameWincred:
		return openWincredStore()
	}
	return nil, fmt.Errorf("unknown backend %q", name)
}
