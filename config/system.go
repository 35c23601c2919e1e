package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// System mode (spec §7): the daemon runs as a dedicated service user, the
// policy belongs to root, and every user is a tenant with a policy, a
// pending queue, a vault and an audit log of their own.
//
//	/etc/keychain-auth/                 root, 0755: marks system mode as installed
//	/etc/keychain-auth/users/           root, 0700
//	/etc/keychain-auth/users/UID.json   root, 0600: the policy of user UID
//	/var/lib/keychain-auth/             service user, 0700
//	/var/lib/keychain-auth/users/UID/   service user, 0700: vault, key, pending.json, audit.log
//	/run/keychain-auth/                 service user, 0755
//	/run/keychain-auth/agent.sock       service user, 0666
//
// The daemon reads the root-owned policy with CAP_DAC_READ_SEARCH, which it
// holds anyway to open the scripts of every user (SECURITY.md).

// systemPrefix and systemUser are fixed at build time. Only the tests change
// them (with -ldflags -X), so that a test run can install system mode under a
// temporary root-owned directory and a service user of its own without
// touching the machine's real one. There is deliberately no environment
// variable: whatever relocates these paths at run time would let a program
// running as the user point clients at a layout of its own.
var (
	systemPrefix = ""
	systemUser   = "keychain-auth"
)

// SystemLayout is where system mode keeps its files.
type SystemLayout struct {
	// Root is /etc/keychain-auth: root-owned; its presence means system
	// mode is installed.
	Root string
	// Users holds one policy file per user, UID.json.
	Users string
	// Data is the service user's state directory, a subdirectory per user.
	Data string
	// Run holds the socket.
	Run string
	// Socket is the daemon's endpoint.
	Socket string
	// User is the name of the service user the daemon runs as.
	User string
}

// System returns the system mode layout of this build.
func System() SystemLayout {
	p := systemPrefix
	return SystemLayout{
		Root:   filepath.Join(p, "/etc", appName),
		Users:  filepath.Join(p, "/etc", appName, "users"),
		Data:   filepath.Join(p, "/var/lib", appName),
		Run:    filepath.Join(p, "/run", appName),
		Socket: filepath.Join(p, "/run", appName, "agent.sock"),
		User:   systemUser,
	}
}

// PolicyPath is the policy file of user uid.
func (l SystemLayout) PolicyPath(uid uint32) string {
	return filepath.Join(l.Users, strconv.FormatUint(uint64(uid), 10)+".json")
}

// TenantDir is the data directory of user uid: vault, key file,
// pending.json and audit.log.
func (l SystemLayout) TenantDir(uid uint32) string {
	return filepath.Join(l.Data, "users", strconv.FormatUint(uint64(uid), 10))
}

// PendingPath is the pending queue of user uid.
func (l SystemLayout) PendingPath(uid uint32) string {
	return filepath.Join(l.TenantDir(uid), PendingFile)
}

// ServiceAccount is the service user's uid and gid.
type ServiceAccount struct {
	UID, GID uint32
}

// ErrNoServiceUser means the service user does not exist: system mode is
// not installed (`sudo keychain-auth install --system`).
var ErrNoServiceUser = errors.New("service user not found")

// LookupService finds the service user in the user database.
func (l SystemLayout) LookupService() (ServiceAccount, error) {
	u, err := user.Lookup(l.User)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return ServiceAccount{}, fmt.Errorf("%w: %s", ErrNoServiceUser, l.User)
		}
		return ServiceAccount{}, fmt.Errorf("look up service user %s: %w", l.User, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return ServiceAccount{}, fmt.Errorf("service user %s has a non-numeric uid or gid", l.User)
	}
	if uid == 0 {
		return ServiceAccount{}, fmt.Errorf("service user %s must not be root", l.User)
	}
	return ServiceAccount{UID: uint32(uid), GID: uint32(gid)}, nil
}

// Installed reports whether system mode is installed on this machine: its
// root directory exists, is a real directory (not a symlink) owned by root
// and writable by nobody else. A directory that exists but fails the
// check is an error, never "not installed": clients must not fall back to
// a user daemon because someone tampered with the marker.
func (l SystemLayout) Installed() (bool, error) {
	fi, err := os.Lstat(l.Root)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("system mode directory: %w", err)
	}
	if err := rootOwnedDir(fi); err != nil {
		return false, fmt.Errorf("system mode directory %s: %w", l.Root, err)
	}
	return true, nil
}
