package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/broker"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/transport"
)

// userModeNote is the one line that `status` and the user-mode daemon's
// start-up log give about what user mode cannot stop.
const userModeNote = "user mode: a program running as you can change the policy and stand in for the daemon; system mode (`sudo keychain-auth install --system`) stops both"

// serveSystem runs the system-mode daemon (spec §7). Started as root it
// prepares the runtime directory and runs itself again as the service user
// with only the capabilities identification needs; started as the service
// user (the systemd unit) it serves.
func serveSystem(ctx context.Context, o serveOptions) error {
	if err := checkSystemOptions(o); err != nil {
		return err
	}
	layout := config.System()
	svc, err := layout.LookupService()
	if errors.Is(err, config.ErrNoServiceUser) {
		return fail(exitError, "system mode is not installed (no service user %s)", layout.User).
			hint("install it with `sudo keychain-auth install --system`")
	}
	if err != nil {
		return err
	}
	switch uint32(os.Geteuid()) {
	case 0:
		return superviseAsService(ctx, layout, svc)
	case svc.UID:
		return serveAsService(ctx, o, layout)
	}
	return fail(exitDenied, "`serve --system` runs as root (it then drops to the service user %s) or as that user, not as uid %d", layout.User, os.Geteuid()).
		hint("start it with `sudo keychain-auth serve --system`, or the systemd unit `keychain-auth.service`")
}

// checkSystemOptions refuses the user-mode options that have no meaning in
// system mode, rather than ignoring them.
func checkSystemOptions(o serveOptions) error {
	switch {
	case o.socket != "":
		return usageError("--socket and KEYCHAIN_AUTH_SOCKET cannot move the system daemon's endpoint (%s)", config.System().Socket)
	case o.backend != backend.NameAuto && o.backend != backend.NameFile:
		return usageError("system mode keeps every user's items in a vault of their own under %s; --backend %s is not available (the Secret Service lives on each user's session bus, open to all their programs)", config.System().Data, o.backend)
	case o.autoLock > 0:
		return usageError("--auto-lock is not available in system mode (each user's vault is opened with its key file)")
	}
	for _, v := range []string{"KEYCHAIN_AUTH_PASSPHRASE", "KEYCHAIN_AUTH_PASSPHRASE_FILE"} {
		if _, ok := os.LookupEnv(v); ok {
			return usageError("%s is not used in system mode (each user's vault has a key file only the service user can read)", v)
		}
	}
	return nil
}

// serveAsService is the daemon proper, running as the service user.
func serveAsService(ctx context.Context, o serveOptions, layout config.SystemLayout) error {
	if err := checkServiceCaps(); err != nil {
		return err
	}
	if err := auth.HardenProcess(); err != nil {
		return fmt.Errorf("harden process: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := transport.ListenSystem(layout.Socket)
	if errors.Is(err, transport.ErrDaemonRunning) {
		return fail(exitError, "a daemon is already running on %s", layout.Socket)
	}
	if err != nil {
		return fmt.Errorf("listen on %s: %w", layout.Socket, err)
	}
	defer ln.Close()
	unlock, err := atomicfile.TryLock(filepath.Join(layout.Data, "daemon.lock"))
	if err != nil {
		return fmt.Errorf("lock %s: %w", layout.Data, err)
	}
	defer unlock()
	if err := auth.PrepareListener(ln.Unix()); err != nil {
		return fmt.Errorf("prepare listener: %w", err)
	}
	srv, tenants, err := newSystemServer(log, o, layout)
	if err != nil {
		return err
	}
	defer tenants.close()
	log.Info("listening", "mode", broker.ModeSystem, "endpoint", layout.Socket, "version", version,
		"policy", layout.Users, "data", layout.Data, "uid", os.Geteuid())
	err = srv.Serve(ctx, ln.Unix())
	log.Info("shutting down")
	return err
}

func newSystemServer(log *slog.Logger, o serveOptions, layout config.SystemLayout) (*broker.Server, *tenantSet, error) {
	self, err := selfImage()
	if err != nil {
		return nil, nil, fmt.Errorf("identify own image: %w", err)
	}
	verifier, err := auth.NewVerifier(auth.Options{SelfHash: self.Hash, AllowForeignNamespaces: o.foreignNS, MultiUser: true})
	if err != nil {
		return nil, nil, err
	}
	daemonAudit, err := audit.Open(filepath.Join(layout.Data, "audit.log"), audit.Options{})
	if err != nil {
		return nil, nil, err
	}
	ts := &tenantSet{layout: layout, maxPending: o.maxPending, log: log, daemonAudit: daemonAudit, byUID: map[uint32]*broker.Tenant{}}
	srv := broker.New(broker.Options{
		Tenants: ts.get, Audit: daemonAudit, Verifier: verifier, Self: self, Logger: log, Limits: systemLimits(o.limits),
		Version: version, Endpoint: layout.Socket, Mode: broker.ModeSystem,
	})
	return srv, ts, nil
}

// systemLimits caps each uid at a quarter of the connection slots when
// no per-uid limit is set: in system mode users share the daemon, and one
// user's programs holding connections on which requests were allowed
// (which the slot table does not shed) must not lock the others out.
func systemLimits(l broker.Limits) broker.Limits {
	if l.MaxConnsPerUID <= 0 {
		l.MaxConnsPerUID = max(l.MaxConns/4, 1)
	}
	return l
}

// tenantSet opens each user's vault, policy, queue and audit log on their
// first request and keeps them for the daemon's life.
type tenantSet struct {
	layout      config.SystemLayout
	maxPending  int
	log         *slog.Logger
	daemonAudit *audit.Log

	mu    sync.Mutex
	byUID map[uint32]*broker.Tenant
}

func (ts *tenantSet) get(uid uint32) (*broker.Tenant, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.byUID[uid]; ok {
		return t, nil
	}
	t, err := ts.open(uid)
	if err != nil {
		return nil, err
	}
	ts.byUID[uid] = t
	ts.log.Info("user's vault opened", "uid", uid, "dir", ts.layout.TenantDir(uid))
	return t, nil
}

func (ts *tenantSet) open(uid uint32) (*broker.Tenant, error) {
	dir := ts.layout.TenantDir(uid)
	if err := config.EnsureDir(dir); err != nil {
		return nil, fmt.Errorf("data directory of uid %d: %w", uid, err)
	}
	if err := ownedByUs(dir); err != nil {
		return nil, fmt.Errorf("data directory of uid %d: %w", uid, err)
	}
	vault, err := backend.OpenVault(dir, backend.VaultOptions{})
	if err != nil {
		return nil, fmt.Errorf("vault of uid %d: %w", uid, err)
	}
	store := tenantVault{vault}
	auditPath := filepath.Join(dir, "audit.log")
	log, err := audit.Open(auditPath, audit.Options{})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("audit log of uid %d: %w", uid, err)
	}
	return &broker.Tenant{
		Store:     store,
		Policy:    config.NewSource(ts.layout.PolicyPath(uid)),
		Pending:   &config.Pending{Path: ts.layout.PendingPath(uid), Max: ts.maxPending, TTL: 24 * time.Hour},
		Audit:     log,
		AuditPath: auditPath,
	}, nil
}

func (ts *tenantSet) close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.byUID {
		t.Store.Close()
		t.Audit.Close()
	}
	ts.daemonAudit.Close()
}

// tenantVault is a user's vault in system mode. Embedding the Store
// interface (not *backend.Vault) leaves out lock, unlock and passwd: a
// tenant's vault is opened with its key file at every start, and a user
// who gave it a passphrase would lock themselves out at the next one.
type tenantVault struct{ backend.Store }

// Info says what protects the vault in system mode, instead of the user
// mode warning about a key file the user could read.
func (v tenantVault) Info() backend.Info {
	info := v.Store.Info()
	info.AtRest = "encrypted file (XChaCha20-Poly1305); the key file and the vault are readable only by the service user"
	info.Warning = ""
	return info
}
