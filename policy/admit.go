package policy

import (
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
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
