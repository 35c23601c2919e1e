package auth

import "errors"

// RunFile is the file `keychain-auth run` is about to execute, as the
// daemon found it through the descriptor the CLI holds on it: its identity
// (path and hash, checked like a running image) and the facts the policy
// needs to judge whether that identity still holds when the CLI executes
// the descriptor (who could rewrite the file meanwhile, whether the kernel
// would hand it to an interpreter).
type RunFile struct {
	Image Image
	// UID and GID own the file; Mode holds its permission bits.
	UID, GID uint32
	Mode     uint32
	// HasACL is set when the file carries a POSIX access ACL, which may
	// let others write it whatever Mode says.
	HasACL bool
	// Script is set when the file begins with "#!".
	Script bool
}

// ErrRunUnsupported is returned by Peer.RunFile where the daemon cannot
// open a descriptor of its peer (every platform but Linux).
var ErrRunUnsupported = errors.New("this platform cannot verify the program of a run by its descriptor")
