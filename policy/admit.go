package policy

import (
	"fmt"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// Unregistered reports whether every request from id would be refused as
// unregistered_binary_pending_approval, whatever it asked: the broker then
// refuses the caller as soon as it connects (spec §3). It follows Decide's
// order: a caller that Decide answers with another reason first (an
// interpreter on a script the daemon will not identify, keychain-auth's own
// CLI, which is decided per request as the script it relays for) is not
// refused here.
func Unregistered(cfg *config.Config, id *auth.Identity) bool {
	switch {
	case id == nil:
		return true
	case id.Script == nil && id.ScriptRefused != nil:
		return false
	case id.Courier != nil:
		return false
	}
	return Find(cfg, id.Program()) == nil
}

// PendingHint is the hint sent with unregistered_binary_pending_approval
// when the caller's own path is registered with another hash: the program
// changed since it was registered, and `upgrade` is what records the new
// hash. It is "" otherwise.
//
// What it reveals: that the caller's own path has an entry. It names no
// hash and no permission, and nothing about any other path. A program
// running as the user can read the same from the policy file (user mode)
// or with `keychain-auth policy`, which the daemon answers for the CLI
// run by any program; the caller learns nothing it could not.
func PendingHint(cfg *config.Config, id *auth.Identity) string {
	if cfg == nil || id == nil {
		return ""
	}
	prog := id.Program()
	for i := range cfg.RegisteredBinaries {
		if e := &cfg.RegisteredBinaries[i]; e.Path == prog.Path && e.Hash != prog.Hash {
			return fmt.Sprintf("%s is registered, but its hash changed (it is now %s): if you changed it, record the new hash with `keychain-auth upgrade %s`; if you did not, find out what did before you do",
				prog.Path, prog.Hash, shellQuote(prog.Path))
		}
	}
	return ""
}

// Upgraded reports whether id is keychain-auth's CLI of another build
// than the daemon's own image self: the same path, another hash. That is
// what a daemon started before an upgrade sees (the CLI then relays for
// nobody, as only the daemon's own image is taken for the courier), and
// the decision refuses it with keychain_auth_upgraded rather than queueing
// keychain-auth itself for approval. A zero self (tests, a daemon that did
// not say) turns the check off.
//
// Only the path the daemon started from counts: a caller elsewhere that is
// named keychain-auth is an ordinary program. A caller that can write the
// daemon's own file has replaced keychain-auth, which the hint does not
// vouch for (see SECURITY.md).
func Upgraded(self auth.Image, id *auth.Identity) (Decision, bool) {
	if self.Path == "" || self.Hash == "" || id == nil || id.Courier != nil || id.Script != nil ||
		id.Exe.Path != self.Path || id.Exe.Hash == self.Hash {
		return Decision{}, false
	}
	d := deny(nil, transport.ReasonKeychainAuthUpgraded)
	d.Hint = fmt.Sprintf("keychain-auth at %s is not the build the running daemon started from (%s now, the daemon %s): it was upgraded or replaced since `keychain-auth serve` started; if you upgraded it, restart `keychain-auth serve` (under systemd: `systemctl --user restart keychain-auth`, or `sudo systemctl restart keychain-auth` in system mode)",
		self.Path, short(id.Exe.Hash), short(self.Hash))
	return d, true
}

// short is the first 12 hex digits of a "sha256:<hex>" hash, enough to
// tell two builds apart in a message.
func short(hash string) string {
	if len(hash) > len("sha256:")+12 {
		return hash[:len("sha256:")+12]
	}
	return hash
}
