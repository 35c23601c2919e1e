package main

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/secret"
)

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "copy every item from one store to another, verify each, and leave the source as it is (daemon stopped)",
		Flags: []cli.Flag{
			socketFlag(),
			&cli.StringFlag{Name: "from", Usage: "source store: file, secret-service, keychain, wincred"},
			&cli.StringFlag{Name: "to", Usage: "destination store: file, secret-service, keychain, wincred"},
			&cli.StringFlag{Name: "from-dir", Usage: "directory of the source file vault (default: the data directory)"},
			&cli.StringFlag{Name: "to-dir", Usage: "directory of the destination file vault (default: the data directory)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace destination items that exist with a different value or attributes"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("migrate takes only flags: --from STORE --to STORE")
			}
			return migrate(c)
		},
	}
}

// storeRef names one side of a migration.
type storeRef struct{ name, dir string }

func (r storeRef) String() string {
	if r.name == backend.NameFile {
		return "file vault in " + r.dir
	}
	return r.name
}

// migration is the plan: what to copy, what is already there.
type migration struct {
	services      int
	copy, present []itemAt
	conflicts     []string // "service/key", never a value
}

type itemAt struct {
	service string
	item    backend.Item
}

func migrate(c *cli.Context) error {
	from, to, err := migrateRefs(c)
	if err != nil {
		return err
	}
	if err := refuseWhileDaemonRuns(c); err != nil {
		return err
	}
	pr := newPassReader(c) // one reader: both passphrases may come from stdin
	src, err := openForMigrate(pr, from, true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openForMigrate(pr, to, false)
	if err != nil {
		return err
	}
	defer dst.Close()
	plan, err := planMigration(src, dst, c.Bool("overwrite"))
	if err != nil {
		return err
	}
	if len(plan.conflicts) > 0 {
		return fail(exitError, "%d items already exist in %s with a different value or attributes (for example %s); nothing was copied",
			len(plan.conflicts), to, strings.Join(plan.conflicts[:min(3, len(plan.conflicts))], ", ")).
			hint("rerun with --overwrite to replace them")
	}
	if err := copyItems(dst, plan.copy); err != nil {
		return fmt.Errorf("copy into %s: %w (items copied so far stay; the source is unchanged; rerun to finish)", to, err)
	}
	if err := verifyItems(dst, append(plan.copy, plan.present...)); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "migrated %d items in %d services from %s to %s: %d copied, %d already there; every item read back and verified\n",
		len(plan.copy)+len(plan.present), plan.services, from, to, len(plan.copy), len(plan.present))
	fmt.Fprintf(c.App.ErrWriter, "keychain-auth: the source (%s) was left as it is; remove its items yourself once you no longer need them\n", from)
	hint := "keychain-auth serve --backend " + to.name
	if to.name == backend.NameFile && to.dir != dataDirOrEmpty() {
		hint = "KEYCHAIN_AUTH_DATA_DIR=" + to.dir + " " + hint
	}
	fmt.Fprintf(c.App.ErrWriter, "keychain-auth: hint: start the daemon on the new store with `%s`\n", hint)
	return nil
}

func migrateRefs(c *cli.Context) (from, to storeRef, err error) {
	dataDir, err := config.DataDir()
	if err != nil {
		return from, to, err
	}
	if c.String("from") == "" || c.String("to") == "" {
		return from, to, usageError("migrate needs --from STORE and --to STORE")
	}
	from = storeRef{name: c.String("from"), dir: dirOr(c.String("from-dir"), dataDir)}
	to = storeRef{name: c.String("to"), dir: dirOr(c.String("to-dir"), dataDir)}
	for _, r := range []storeRef{from, to} {
		if r.name == backend.NameAuto || !validBackend(r.name) {
			return from, to, usageError("--from and --to take a store name: file, secret-service, keychain or wincred (not %q)", r.name)
		}
	}
	if from.name == to.name && (from.name != backend.NameFile || samePath(from.dir, to.dir)) {
		return from, to, usageError("--from and --to name the same store (%s)", from)
	}
	return from, to, nil
}

func validBackend(name string) bool {
	for _, n := range backend.Names() {
		if n == name {
			return true
		}
	}
	return false
}

func dirOr(d, def string) string {
	if d == "" {
		return def
	}
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

func samePath(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}

// refuseWhileDaemonRuns: a running daemon could change either store while
// it is copied, and holds the vault open with its own view of it.
func refuseWhileDaemonRuns(c *cli.Context) error {
	conn, ch, err := dialDaemon(c.String("socket"))
	var ce *cliError
	if errors.As(err, &ce) && ce.code == exitNotRunning {
		return nil
	}
	if err == nil {
		conn.Close()
	}
	return fail(exitError, "a daemon is running on %s; migrate needs the stores to stay still", ch.path).
		hint("stop it first (it is restarted with `keychain-auth serve --backend NAME`)")
}

// openForMigrate opens a store by name. A file vault protected by a
// passphrase asks for it (terminal, or a line on stdin); a new destination
// vault is created with a key file (set a passphrase with `passwd` first if
// you want one).
func openForMigrate(pr *passReader, r storeRef, source bool) (backend.Store, error) {
	var pass secret.Value
	if r.name == backend.NameFile {
		exists, hasPass, err := backend.VaultProtection(r.dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
		if source && !exists {
			// Opening would create an empty vault: the source must not change.
			return nil, fail(exitError, "there is no vault in %s", r.dir)
		}
		if hasPass {
			if pass, err = pr.read("Passphrase of the " + r.String() + ": "); err != nil {
				return nil, err
			}
		}
	}
	s, _, err := backend.Open(r.name, backend.Options{DataDir: r.dir, Passphrase: pass})
	if errors.Is(err, backend.ErrBadPassphrase) {
		return nil, fail(exitDenied, "wrong passphrase for the %s", r)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r, err)
	}
	return s, nil
}

// planMigration reads every item of the source and compares it with the
// destination before anything is written, so a conflict copies nothing.
func planMigration(src, dst backend.Store, overwrite bool) (*migration, error) {
	en, ok := src.(backend.Enumerator)
	if !ok {
		return nil, fmt.Errorf("store %s cannot list its services", src.Info().Name)
	}
	services, err := en.Services()
	if err != nil {
		return nil, fmt.Errorf("list services of %s: %w", src.Info().Name, err)
	}
	m := &migration{services: len(services)}
	for _, svc := range services {
		items, err := src.List(svc, "", true)
		if err != nil {
			return nil, fmt.Errorf("read service %q: %w", svc, err)
		}
		for _, it := range items {
			if err := m.place(dst, svc, it, overwrite); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *migration) place(dst backend.Store, svc string, it backend.Item, overwrite bool) error {
	have, err := dst.Get(svc, it.Key)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		m.copy = append(m.copy, itemAt{svc, it})
	case err != nil:
		return fmt.Errorf("look up %s/%s in the destination: %w", svc, it.Key, err)
	case sameItem(have, it):
		m.present = append(m.present, itemAt{svc, it})
	case overwrite:
		m.copy = append(m.copy, itemAt{svc, it})
	default:
		m.conflicts = append(m.conflicts, svc+"/"+it.Key)
	}
	return nil
}

func sameItem(a, b backend.Item) bool {
	return a.Key == b.Key && a.Value.Reveal() == b.Value.Reveal() && maps.Equal(a.Attributes, b.Attributes)
}

// copyItems writes one item at a time: every item keeps its own
// attributes, and a failure names the item it stopped at.
func copyItems(dst backend.Store, items []itemAt) error {
	for _, it := range items {
		if err := dst.Set(it.service, []backend.Item{it.item}); err != nil {
			return fmt.Errorf("write %s/%s: %w", it.service, it.item.Key, err)
		}
	}
	return nil
}

// verifyItems reads every item back from the destination and compares it
// with the source's copy.
func verifyItems(dst backend.Store, items []itemAt) error {
	bad := 0
	first := ""
	for _, it := range items {
		got, err := dst.Get(it.service, it.item.Key)
		if err != nil || !sameItem(got, it.item) {
			if bad == 0 {
				first = it.service + "/" + it.item.Key
			}
			bad++
		}
	}
	if bad > 0 {
		return fail(exitError, "verification failed: %d of %d items do not read back as in the source (first: %s); the source is unchanged", bad, len(items), first)
	}
	return nil
}

// dataDirOrEmpty is the daemon's default data directory, or "" when it
// cannot be determined.
func dataDirOrEmpty() string {
	d, err := config.DataDir()
	if err != nil {
		return ""
	}
	return d
}
