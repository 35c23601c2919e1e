package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

// policyCommands are the commands that read or change a policy, with
// whether they change it. In system mode (spec §7) a change needs root and
// acts on the user sudo was run by (SUDO_UID) or on --user NAME; a user
// without root reads their own data through the daemon (VIEW).
var policyCommands = map[string]bool{
	"register": true, "upgrade": true, "approve": true, "grant": true, "revoke": true,
	"unregister": true, "authorize": true,
	"policy": false, "check": false, "list-pending": false, "audit": false,
}

// policyScope is whose policy a command acts on, resolved once before it
// runs. nil (or system false) is user mode: the files of config.Dir.
type policyScope struct {
	system    bool
	layout    config.SystemLayout
	uid       uint32
	viaDaemon bool // a user without root: read through VIEW
	socket    string
}

// scope is the running command's policyScope (one command per process).
var scope *policyScope

// scopePolicyCommand gives a policy command --user and resolves its scope
// before it runs.
func scopePolicyCommand(cmd *cli.Command) {
	change, ok := policyCommands[cmd.Name]
	if !ok {
		return
	}
	cmd.Flags = append(cmd.Flags, &cli.StringFlag{Name: "user", Usage: "system mode, as root: whose policy (default: the user who ran sudo)"})
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		s, err := resolveScope(cmd.Name, c.String("user"), c.String("socket"), change)
		if err != nil {
			return err
		}
		scope = s
		if before != nil {
			return before(c)
		}
		return nil
	}
}

func resolveScope(name, userFlag, socket string, change bool) (*policyScope, error) {
	layout := config.System()
	installed, err := layout.Installed()
	if err != nil {
		return nil, fail(exitError, "%v", err).hint("system mode's directory must be root's alone")
	}
	if !installed {
		if userFlag != "" {
			return nil, usageError("--user is for system mode, which is not installed here")
		}
		return nil, nil
	}
	s := &policyScope{system: true, layout: layout, socket: socket}
	if os.Geteuid() != 0 {
		if change || userFlag != "" {
			return nil, fail(exitDenied, "system mode: the policy belongs to root; this changes nothing without it").
				hint("run it with sudo: `sudo keychain-auth %s ...` (it acts on your own policy, or --user NAME)", name)
		}
		s.uid, s.viaDaemon = uint32(os.Getuid()), true
		return s, nil
	}
	uid, err := targetUser(userFlag)
	if err != nil {
		return nil, err
	}
	s.uid = uid
	return s, nil
}

// targetUser is the uid a root command acts on: --user NAME (or a numeric
// uid), else SUDO_UID.
func targetUser(name string) (uint32, error) {
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return 0, usageError("no user %q", name)
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return 0, usageError("user %q has no numeric uid", name)
		}
		return uint32(uid), nil
	}
	if v := os.Getenv("SUDO_UID"); v != "" {
		uid, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("SUDO_UID %q is not a uid", v)
		}
		return uint32(uid), nil
	}
	return 0, usageError("as root in system mode, say whose policy this is: --user NAME (sudo sets it for you)")
}

// systemPolicyPath is the target user's policy file, its directory made
// (root's, 0700) if missing.
func (s *policyScope) systemPolicyPath() (string, error) {
	if err := config.EnsureDir(s.layout.Users); err != nil {
		return "", err
	}
	return s.layout.PolicyPath(s.uid), nil
}

// fetchView asks the daemon for the caller's own policy, queue and audit.
func (s *policyScope) fetchView() (*transport.ViewInfo, error) {
	conn, _, err := dialDaemon(s.socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(`{"type":"VIEW"}` + "\n")); err != nil {
		return nil, fmt.Errorf("ask the daemon for your policy: %w", err)
	}
	line, err := transport.NewLineReader(conn, transport.MaxResponseLine).ReadLine()
	if err != nil {
		return nil, fmt.Errorf("ask the daemon for your policy: %w", err)
	}
	var v transport.ViewInfo
	if err := json.Unmarshal(line, &v); err != nil || v.Type != transport.TypeView {
		var resp transport.Response
		if json.Unmarshal(line, &resp) == nil && resp.Type == transport.TypeResponse {
			return nil, refusal(&resp)
		}
		return nil, errors.New("the daemon's answer to VIEW did not parse")
	}
	return &v, nil
}

// systemAuditPath is the target user's audit log (root only).
func (s *policyScope) systemAuditPath() string {
	return filepath.Join(s.layout.TenantDir(s.uid), "audit.log")
}

// giveBackQueue: in system mode root has just rewritten a pending queue
// that the service user's daemon writes; the new file (and its lock file)
// must be the service user's again, or the daemon could no longer queue
// that user's programs. Outside system mode it does nothing.
func giveBackQueue(path string) {
	if scope == nil || !scope.system || scope.viaDaemon {
		return
	}
	svc, err := scope.layout.LookupService()
	if err != nil {
		return
	}
	for _, p := range []string{path, path + ".lock"} {
		_ = os.Lchown(p, int(svc.UID), int(svc.GID))
	}
}

// mayRewriteQueue: in system mode root touches a user's pending queue only
// when the daemon has made it; otherwise root would create the user's data
// directory as root's, and the daemon could not open that user's vault.
func mayRewriteQueue(path string) bool {
	if scope == nil || !scope.system {
		return true
	}
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}

// pendingRecords lists the pending queue in scope; a system-mode user
// without root gets their own through the daemon.
func pendingRecords() ([]config.PendingRecord, error) {
	if scope != nil && scope.viaDaemon {
		v, err := scope.fetchView()
		if err != nil {
			return nil, err
		}
		var recs []config.PendingRecord
		if err := json.Unmarshal(v.Pending, &recs); err != nil {
			return nil, fmt.Errorf("pending queue from the daemon: %w", err)
		}
		return recs, nil
	}
	q, err := pendingQueue()
	if err != nil {
		return nil, err
	}
	return q.List()
}
