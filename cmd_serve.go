package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/broker"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/internal/atomicfile"
	"github.com/keychain-auth/keychain-auth/transport"
)

func socketFlag() cli.Flag {
	return &cli.StringFlag{Name: "socket", Usage: "daemon endpoint (default per platform)", EnvVars: []string{"KEYCHAIN_AUTH_SOCKET"}}
}

func serveCommand() *cli.Command {
	def := broker.DefaultLimits()
	return &cli.Command{
		Name:    "serve",
		Aliases: []string{"start"},
		Usage:   "run the daemon in the foreground (logs to stderr)",
		// Every variable the daemon reads; TestServeHelpListsEveryVariable
		// (integration) checks this list against the source.
		Description: "Environment (besides the flags' own variables, shown with each flag):\n" +
			"  KEYCHAIN_AUTH_PASSPHRASE       the file vault's passphrase (prefer the _FILE form)\n" +
			"  KEYCHAIN_AUTH_PASSPHRASE_FILE  a file whose first line is the passphrase; mode 0600, else refused\n" +
			"                                 (without either, a passphrase vault starts locked until\n" +
			"                                 keychain-auth unlock; both are unset once read)\n" +
			"  KEYCHAIN_AUTH_CONFIG_DIR       policy directory (default $XDG_CONFIG_HOME/keychain-auth,\n" +
			"                                 ~/.config/keychain-auth; Windows %APPDATA%\\keychain-auth)\n" +
			"  KEYCHAIN_AUTH_DATA_DIR         data directory: vault, audit log (default $XDG_DATA_HOME/keychain-auth,\n" +
			"                                 ~/.local/share/keychain-auth; macOS ~/Library/Application Support/keychain-auth;\n" +
			"                                 Windows %LOCALAPPDATA%\\keychain-auth)\n" +
			"  XDG_CONFIG_HOME, XDG_DATA_HOME, HOME, APPDATA, LOCALAPPDATA  the defaults above\n" +
			"  XDG_RUNTIME_DIR                default endpoint $XDG_RUNTIME_DIR/keychain-auth/agent.sock\n" +
			"                                 (else ~/.cache/keychain-auth/agent.sock)\n" +
			"  DBUS_SESSION_BUS_ADDRESS       the session bus of the Secret Service (backend auto, secret-service)\n" +
			"System mode (--system) uses fixed paths and refuses the passphrase variables and --socket.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "system", Usage: "system mode: run as the service user, with root-owned policy and a vault per user (Linux; set up with: sudo keychain-auth install --system)"},
			socketFlag(),
			&cli.StringFlag{Name: "backend", Value: "auto", EnvVars: []string{"KEYCHAIN_AUTH_BACKEND"},
				Usage: "secret store: " + strings.Join(backend.Names(), ", ")},
			&cli.BoolFlag{Name: "allow-foreign-namespaces", EnvVars: []string{"KEYCHAIN_AUTH_ALLOW_FOREIGN_NAMESPACES"},
				Usage: "serve callers in other user, pid or mount namespaces (containers); see SECURITY.md"},
			&cli.IntFlag{Name: "max-line", Value: def.MaxLine, Usage: "longest request line in bytes"},
			&cli.IntFlag{Name: "max-targets", Value: def.MaxTargets, Usage: "most targets in one request"},
			&cli.IntFlag{Name: "max-conns", Value: def.MaxConns, Usage: "most connections served at once"},
			&cli.DurationFlag{Name: "idle-timeout", Value: def.IdleTimeout, Usage: "close a connection idle this long"},
			&cli.IntFlag{Name: "max-pending", Value: 100, Usage: "most programs waiting for approval"},
			&cli.DurationFlag{Name: "auto-lock", Value: 0, EnvVars: []string{"KEYCHAIN_AUTH_AUTO_LOCK"},
				Usage: "lock the file vault after `DURATION` without a request, e.g. 15m (0: never); keychain-auth unlock opens it again"},
		},
		Action: func(c *cli.Context) error {
			lim := broker.Limits{MaxLine: c.Int("max-line"), MaxTargets: c.Int("max-targets"),
				MaxConns: c.Int("max-conns"), IdleTimeout: c.Duration("idle-timeout")}
			return serve(c.Context, serveOptions{
				socket: c.String("socket"), backend: c.String("backend"), limits: lim,
				maxPending: c.Int("max-pending"), foreignNS: c.Bool("allow-foreign-namespaces"),
				autoLock: c.Duration("auto-lock"), system: c.Bool("system"),
			})
		},
	}
}

type serveOptions struct {
	socket, backend string
	limits          broker.Limits
	maxPending      int
	foreignNS       bool
	autoLock        time.Duration
	system          bool
}

func serve(ctx context.Context, o serveOptions) error {
	if o.system {
		return serveSystem(ctx, o)
	}
	if err := auth.HardenProcess(); err != nil {
		return fmt.Errorf("harden process: %w", err)
	}
	// Signals first: the socket answers before the store is open (a
	// passphrase takes a moment), and a stop then must still be clean.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfgDir, dataDir, err := ensureDirs()
	if err != nil {
		return err
	}
	// Claim the endpoint and the data directory before touching the store,
	// so that a second daemon says so instead of failing on the store (or
	// sharing it from another socket).
	ln, endpoint, err := claim(o.socket, dataDir)
	if err != nil {
		return err
	}
	defer ln.Close()
	store, err := openStore(log, o, dataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	srv, auditLog, err := newServer(log, o, store, cfgDir, dataDir, endpoint)
	if err != nil {
		return err
	}
	defer auditLog.Close()
	if o.autoLock > 0 {
		log.Info("auto-lock on: the vault locks after this long without a request", "idle", o.autoLock.String())
		go srv.AutoLock(ctx, o.autoLock)
	}
	log.Info("listening", "mode", broker.ModeUser, "endpoint", endpoint, "version", version, "config", cfgDir, "data", dataDir)
	log.Warn(userModeNote)
	var more []net.Listener
	if o.socket == "" {
		if cache := listenCacheEndpoint(log); cache != nil {
			defer cache.Close()
			more = append(more, cache.Unix())
		}
	}
	err = srv.Serve(ctx, ln.serving(), more...)
	log.Info("shutting down")
	return err
}

// daemonListener is the endpoint's listener plus the data directory's lock;
// Close releases both.
type daemonListener struct {
	userEndpoint
	unlockData func()
}

func (d *daemonListener) Close() error {
	err := d.userEndpoint.Close()
	d.unlockData()
	return err
}

// claim listens on the endpoint (refusing when a daemon answers there) and
// locks the data directory for this daemon's lifetime.
func claim(socket, dataDir string) (*daemonListener, string, error) {
	endpoint, err := transport.Endpoint(socket)
	if err != nil {
		return nil, "", err
	}
	ln, err := listenUser(endpoint) // per OS: serve_listen_*.go
	if err != nil {
		return nil, "", err
	}
	unlock, err := atomicfile.TryLock(filepath.Join(dataDir, "daemon.lock"))
	if err != nil {
		ln.Close()
		if errors.Is(err, atomicfile.ErrLocked) {
			return nil, "", fail(exitError, "another keychain-auth daemon uses the data directory %s", dataDir).
				hint("one daemon per data directory; stop the other one or set KEYCHAIN_AUTH_DATA_DIR")
		}
		return nil, "", err
	}
	return &daemonListener{userEndpoint: ln, unlockData: unlock}, endpoint, nil
}

// listenCacheEndpoint also answers where clients without XDG_RUNTIME_DIR
// look (transport.CacheEndpoint), with the same checks as the main socket.
// Not being able to is a warning, not a reason to stop: the main endpoint
// works.
func listenCacheEndpoint(log *slog.Logger) *transport.Listener {
	path, ok, err := transport.CacheEndpoint()
	if err != nil || !ok {
		return nil
	}
	ln, err := transport.Listen(path)
	if err == nil {
		if err = auth.PrepareListener(ln.Unix()); err != nil {
			ln.Close()
		}
	}
	if err != nil {
		log.Warn("not answering where clients without XDG_RUNTIME_DIR look", "endpoint", path, "err", err)
		return nil
	}
	log.Info("also listening for clients without XDG_RUNTIME_DIR", "endpoint", path)
	return ln
}

// openStore opens the selected backend, checks it against the recorded
// choice and the flags, and logs what it is.
func openStore(log *slog.Logger, o serveOptions, dataDir string) (backend.Store, error) {
	pass, src, err := passphraseFromEnv()
	if err != nil {
		return nil, err
	}
	// A passphrase vault without its passphrase starts locked and waits for
	// `keychain-auth unlock` (a service has no terminal to ask at).
	store, sel, err := backend.Open(o.backend, backend.Options{DataDir: dataDir, Passphrase: pass, LockedWithoutPassphrase: true})
	if err != nil {
		return nil, fmt.Errorf("open backend %q: %w", o.backend, err)
	}
	if err := noteVaultStart(log, store, pass, src, dataDir); err != nil {
		store.Close()
		return nil, err
	}
	if err := rememberBackend(dataDir, sel); err != nil {
		store.Close()
		return nil, err
	}
	if _, ok := store.(backend.Lockable); o.autoLock > 0 && !ok {
		store.Close()
		return nil, fail(exitUsage, "--auto-lock needs a store keychain-auth can lock (the file vault), not %s", sel.Name)
	}
	info := store.Info()
	log.Info("backend selected", "backend", info.Name, "why", sel.Reason, "at_rest", info.AtRest)
	if info.Warning != "" {
		log.Warn(info.Warning)
	}
	return store, nil
}

// newServer wires the broker: verifier, audit log, policy and queue.
func newServer(log *slog.Logger, o serveOptions, store backend.Store, cfgDir, dataDir, endpoint string) (*broker.Server, *audit.Log, error) {
	self, err := selfImage()
	if err != nil {
		return nil, nil, fmt.Errorf("identify own image: %w", err)
	}
	verifier, err := auth.NewVerifier(auth.Options{SelfHash: self.Hash, AllowForeignNamespaces: o.foreignNS})
	if err != nil {
		return nil, nil, err
	}
	if o.foreignNS {
		log.Warn("serving callers in other namespaces (--allow-foreign-namespaces): identity checks are weaker, see SECURITY.md")
	}
	auditLog, err := audit.Open(filepath.Join(dataDir, "audit.log"), audit.Options{})
	if err != nil {
		return nil, nil, err
	}
	srv := broker.New(broker.Options{
		Store: store, Verifier: verifier, Self: self, Logger: log, Limits: o.limits, Audit: auditLog,
		Policy:  config.NewSource(filepath.Join(cfgDir, config.ConfigFile)),
		Pending: &config.Pending{Path: filepath.Join(cfgDir, config.PendingFile), Max: o.maxPending, TTL: 24 * time.Hour},
		Version: version, Endpoint: endpoint,
	})
	return srv, auditLog, nil
}

func ensureDirs() (cfgDir, dataDir string, err error) {
	if cfgDir, err = config.Dir(); err != nil {
		return "", "", err
	}
	if dataDir, err = config.DataDir(); err != nil {
		return "", "", err
	}
	for _, d := range []string{cfgDir, dataDir} {
		if err := config.EnsureDir(d); err != nil {
			return "", "", err
		}
	}
	return cfgDir, dataDir, nil
}

// selfImage identifies our own executable, so that the verifier can tell
// when the caller is our own CLI relaying for a script (spec §4).
func selfImage() (auth.Image, error) {
	exe, err := os.Executable()
	if err != nil {
		return auth.Image{}, err
	}
	return auth.HashFile(exe)
}

// backendRecordFile, in the data directory, names the store the daemon used
// last. auto can pick a different store from one start to the next (a
// keyring locked at boot makes it fall back to the vault), and every secret
// would then look missing; the record turns that into a clear refusal.
const backendRecordFile = "backend"

// rememberBackend checks auto's choice against the record and writes the
// record: auto may only choose what was chosen before (or anything on the
// first start); a store named with --backend always updates it.
func rememberBackend(dataDir string, sel backend.Selection) error {
	path := filepath.Join(dataDir, backendRecordFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read backend record: %w", err)
	}
	last := strings.TrimSpace(string(b))
	if sel.Requested == backend.NameAuto && last != "" && last != sel.Name {
		return fail(exitError, "backend auto chose %s (%s), but the daemon used %s last time; its secrets would look missing", sel.Name, sel.Reason, last).
			hint("choose one: `keychain-auth serve --backend %s` to keep using it (unlock it first if it is a locked keyring), `--backend %s` to switch, or copy the items with `keychain-auth migrate --from %s --to %s` and then start with `--backend %s`",
				last, sel.Name, last, sel.Name, sel.Name)
	}
	if last == sel.Name {
		return nil
	}
	if _, err := atomicfile.WriteFile(path, []byte(sel.Name+"\n"), 0o600); err != nil {
		return fmt.Errorf("record backend choice: %w", err)
	}
	return nil
}
