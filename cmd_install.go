package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
)

// systemUnitTemplate is packaging/systemd/keychain-auth-system.service, a
// valid unit as shipped; install renders ExecStart=, User= and Group= into it.
//
//go:embed packaging/systemd/keychain-auth-system.service
var systemUnitTemplate string

// unitName is the system unit install writes.
const unitName = "keychain-auth.service"

func installCommand() *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "set up system mode (Linux, as root): service user, directories, systemd unit",
		ArgsUsage: "--system",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "system", Usage: "install system mode (required)"}},
		Action: func(c *cli.Context) error {
			if err := needSystemFlag(c); err != nil {
				return err
			}
			return installSystem(systemPlan(), c.App.ErrWriter)
		},
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "uninstall",
		Usage:     "remove system mode's unit (as root); policy, secrets and the service user stay unless --purge",
		ArgsUsage: "--system [--purge]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "system", Usage: "uninstall system mode (required)"},
			&cli.BoolFlag{Name: "purge", Usage: "also delete every user's policy and secrets, and the service user"},
		},
		Action: func(c *cli.Context) error {
			if err := needSystemFlag(c); err != nil {
				return err
			}
			return uninstallSystem(systemPlan(), c.Bool("purge"), c.App.ErrWriter)
		},
	}
}

func needSystemFlag(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("%s takes no arguments", c.Command.Name)
	}
	if !c.Bool("system") {
		return usageError("%s needs --system", c.Command.Name).
			hint("user mode needs no install: run `keychain-auth serve` (packaging/README.md has a user unit)")
	}
	return nil
}

// installPlan is everything install and uninstall act on, fixed at build
// time by config.System (tests build with another prefix and user).
type installPlan struct {
	layout  config.SystemLayout
	unitDir string // /etc/systemd/system under the build's prefix
}

func systemPlan() installPlan {
	l := config.System()
	// Root is PREFIX/etc/keychain-auth, so PREFIX/etc is its parent.
	return installPlan{layout: l, unitDir: filepath.Join(filepath.Dir(l.Root), "systemd", "system")}
}

func (p installPlan) unitPath() string { return filepath.Join(p.unitDir, unitName) }

// dirSpec is one directory of the layout with its owner and mode.
type dirSpec struct {
	path    string
	service bool // owned by the service user (else root)
	mode    uint32
}

// dirs lists the layout's directories in creation order (config/system.go).
func (p installPlan) dirs() []dirSpec {
	l := p.layout
	return []dirSpec{
		{path: l.Root, mode: 0o755},
		{path: l.Users, mode: 0o700},
		{path: l.Data, service: true, mode: 0o700},
		{path: filepath.Join(l.Data, "users"), service: true, mode: 0o700},
		{path: l.Run, service: true, mode: 0o755},
	}
}

// renderUnit fills the unit template for the binary exe run as user. Only
// plain paths and names are accepted: systemd gives meaning to spaces,
// quotes, backslashes, '%' and '$' in these lines.
func renderUnit(tmpl, exe, user string) (string, error) {
	if !filepath.IsAbs(exe) || !plainValue(exe, "/._+-") {
		return "", fmt.Errorf("binary path %q: only letters, digits and / . _ + - are allowed in a unit's ExecStart", exe)
	}
	if user == "" || !plainValue(user, "._-") {
		return "", fmt.Errorf("service user name %q is not a plain name", user)
	}
	want := map[string]string{
		"ExecStart=": "ExecStart=" + exe + " serve --system",
		"User=":      "User=" + user,
		"Group=":     "Group=" + user,
	}
	seen := map[string]int{}
	lines := strings.Split(tmpl, "\n")
	for i, line := range lines {
		for key, repl := range want {
			if strings.HasPrefix(line, key) {
				lines[i] = repl
				seen[key]++
			}
		}
	}
	for key := range want {
		if seen[key] != 1 {
			return "", fmt.Errorf("unit template has %d %s lines, want 1", seen[key], key)
		}
	}
	return strings.Join(lines, "\n"), nil
}

func plainValue(s, extra string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)
		if !ok {
			return false
		}
	}
	return true
}

// errUntrustedPath is checkTrustedPath's answer when some component of the
// path can be changed by someone other than root.
var errUntrustedPath = errors.New("not safe to run as a service")

// checkTrustedPath accepts path when it and every directory above it, up to
// /, are owned by root and writable by neither group nor others: otherwise
// whoever can write there can replace the binary the service runs. stat is
// lstat on the platform (returns uid and mode bits, and whether the entry is
// a symlink).
func checkTrustedPath(path string, stat func(string) (uid uint32, mode uint32, symlink bool, err error)) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: %w (not an absolute path)", path, errUntrustedPath)
	}
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		uid, mode, symlink, err := stat(p)
		switch {
		case err != nil:
			return err
		case symlink:
			return fmt.Errorf("%s is a symlink: %w", p, errUntrustedPath)
		case uid != 0:
			return fmt.Errorf("%s is owned by uid %d, not root: %w", p, uid, errUntrustedPath)
		case mode&0o022 != 0:
			return fmt.Errorf("%s is writable by group or others (mode %04o): %w", p, mode&0o7777, errUntrustedPath)
		}
		if p == "/" {
			return nil
		}
	}
}

// untrustedBinary is the refusal of a binary outside root's reach.
func untrustedBinary(err error) error {
	return fail(exitError, "%v", err).
		hint("copy the binary somewhere only root can write and install from there: `sudo install -o root -g root -m 0755 keychain-auth /usr/local/bin/ && sudo /usr/local/bin/keychain-auth install --system`")
}

// needRoot is the refusal of install and uninstall without root.
func needRoot() error {
	return fail(exitDenied, "needs root; use sudo")
}

func say(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "keychain-auth: "+format+"\n", a...)
}
