package main

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/broker"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/secret"
	"github.com/keychain-auth/keychain-auth/transport"
)

func passwdCommand() *cli.Command {
	return &cli.Command{
		Name: "passwd",
		Usage: "set or change the file vault's passphrase (a key-file vault becomes a passphrase vault); " +
			"through the running daemon if there is one, else on the vault file",
		Flags: []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("passwd takes no arguments; passphrases are read from the terminal or stdin")
			}
			return passwd(c)
		},
	}
}

// passwd re-keys the vault. With a daemon running it must go through the
// daemon, which re-keys its open vault in place and stays unlocked (a
// change behind its back would lock it). Without one, the vault is opened
// here; its file lock keeps a daemon started meanwhile out until done.
func passwd(c *cli.Context) error {
	dir, err := config.DataDir()
	if err != nil {
		return err
	}
	a, endpoint, err := dialAdmin(c)
	var ce *cliError
	if errors.As(err, &ce) && ce.code == exitNotRunning {
		a = nil
	} else if err != nil {
		return err
	}
	if a != nil {
		defer a.close()
		if err := daemonCanRekey(c); err != nil {
			return err
		}
	}
	old, next, err := askPassphrases(c, dir)
	if err != nil {
		return err
	}
	if a != nil {
		err = a.call(adminMessage{Type: transport.TypePasswd, Passphrase: old, NewPassphrase: next}, endpoint)
	} else {
		err = rekeyOffline(c, dir, old, next)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.ErrWriter, "keychain-auth: the vault passphrase was changed")
	if !warnStaleSource(c, dir, next) {
		fmt.Fprintln(c.App.ErrWriter, "keychain-auth: hint: `keychain-auth serve` now starts locked until `keychain-auth unlock`, or give it KEYCHAIN_AUTH_PASSPHRASE_FILE (a 0600 file)")
	}
	return nil
}

// daemonCanRekey asks the running daemon, before any passphrase is typed,
// whether PASSWD could succeed: its store must be the file vault, in user
// mode (system mode's vaults have key files only), and not locked.
func daemonCanRekey(c *cli.Context) error {
	st, err := daemonStatus(c)
	if err != nil {
		return err
	}
	switch {
	case st.Backend != backend.NameFile || st.Mode == broker.ModeSystem:
		return fail(exitError, "the running daemon's store (%s, %s mode) has no passphrase keychain-auth can change; no passphrase was asked for", st.Backend, st.Mode).
			hint("only the file vault of a user-mode daemon has one; a native keyring's password is changed with the system's own tools")
	case st.Locked:
		return fail(exitError, "the store is locked; no passphrase was asked for").hint("unlock it first with `keychain-auth unlock`")
	}
	return nil
}

// warnStaleSource warns when the daemon was last started with a passphrase
// (from a file or the environment) that is not the new one: its next start
// would fail. It reports whether it said anything.
func warnStaleSource(c *cli.Context, dir string, next secret.Value) bool {
	src := lastPassphraseSource(dir)
	w := c.App.ErrWriter
	switch src.kind {
	case "file":
		p, err := readPassphraseFile(src.file)
		if err == nil && subtle.ConstantTimeCompare([]byte(p.Reveal()), []byte(next.Reveal())) == 1 {
			return false
		}
		fmt.Fprintf(w, "keychain-auth: warning: the daemon was started with the passphrase file %s, which does not hold the new passphrase: its next start will fail\n", src.file)
		fmt.Fprintf(w, "keychain-auth: hint: write the new passphrase into %s (mode 0600), or remove KEYCHAIN_AUTH_PASSPHRASE_FILE from the service so that it starts locked and waits for `keychain-auth unlock`\n", src.file)
		return true
	case "env":
		fmt.Fprintln(w, "keychain-auth: warning: the daemon was started with KEYCHAIN_AUTH_PASSPHRASE; give its next start the new passphrase, or none (it then starts locked and waits for `keychain-auth unlock`)")
		return true
	}
	return false
}

// askPassphrases asks for the current passphrase when the vault has one,
// then for the new one twice.
func askPassphrases(c *cli.Context, dir string) (old, next secret.Value, err error) {
	_, hasPass, err := backend.VaultProtection(dir)
	if err != nil {
		return "", "", err
	}
	p := newPassReader(c)
	if hasPass {
		if old, err = p.read("Current vault passphrase: "); err != nil {
			return "", "", err
		}
	}
	if next, err = p.read("New vault passphrase: "); err != nil {
		return "", "", err
	}
	again, err := p.read("New vault passphrase again: ")
	if err != nil {
		return "", "", err
	}
	switch {
	case next.Len() == 0:
		return "", "", fail(exitError, "the new passphrase is empty")
	case next.Reveal() != again.Reveal():
		return "", "", fail(exitError, "the two new passphrases differ; nothing was changed")
	case len([]rune(next.Reveal())) < shortPassphrase:
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: warning: the new passphrase is shorter than %d characters; anyone who copies the vault file can try to guess it offline\n", shortPassphrase)
	}
	return old, next, nil
}

func rekeyOffline(c *cli.Context, dir string, old, next secret.Value) error {
	exists, _, err := backend.VaultProtection(dir)
	if err != nil {
		return err
	}
	v, err := backend.OpenVault(dir, backend.VaultOptions{Passphrase: old})
	if errors.Is(err, backend.ErrBadPassphrase) || errors.Is(err, backend.ErrPassphraseRequired) || errors.Is(err, backend.ErrKeyFileVault) {
		return fail(exitDenied, "wrong passphrase")
	}
	if err != nil {
		return err
	}
	defer v.Close()
	if !exists {
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: created a new, empty vault in %s\n", dir)
	}
	return v.ChangePassphrase(next)
}
