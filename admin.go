package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
)

// configPath is config.json in the configuration directory, created 0700.
func configPath() (string, error) {
	if scope != nil && scope.system {
		if scope.viaDaemon {
			return "", errors.New("system mode: the policy file is root's; read it through the daemon")
		}
		return scope.systemPolicyPath()
	}
	dir, err := config.Dir()
	if err != nil {
		return "", err
	}
	if err := config.EnsureDir(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, config.ConfigFile), nil
}

// pendingQueue is pending.json beside config.json.
func pendingQueue() (*config.Pending, error) {
	if scope != nil && scope.system && !scope.viaDaemon {
		return &config.Pending{Path: scope.layout.PendingPath(scope.uid), TTL: 24 * time.Hour}, nil
	}
	p, err := configPath()
	if err != nil {
		return nil, err
	}
	return &config.Pending{Path: filepath.Join(filepath.Dir(p), config.PendingFile), TTL: 24 * time.Hour}, nil
}

// resolvePath makes p absolute and symlink-free, as entries are stored. A
// path that no longer exists (an uninstalled tool) is only made absolute,
// so that it can still be unregistered.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// hashProgram hashes the file at path for register, upgrade and approve.
func hashProgram(path string) (auth.Image, error) {
	img, err := auth.HashFile(path)
	if err != nil {
		return auth.Image{}, fail(exitError, "cannot read %s: %v", path, err)
	}
	return img, nil
}

// normalizeHash accepts "sha256:<hex>" or bare hex, as list-pending shows it.
func normalizeHash(h string) (string, error) {
	n, err := config.NormalizeHash(strings.TrimSpace(h))
	if err != nil {
		return "", usageError("%q is not a SHA-256 hash (64 hex digits, optionally prefixed sha256:)", h)
	}
	return n, nil
}

// printable quotes a string that holds control characters (C0, DEL and
// C1, whose U+009B is a one-rune escape-sequence start for some terminals)
// or invalid UTF-8, so that a program named "x\nPath: /usr/bin/good" cannot
// forge lines in our output.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// updatePolicy runs fn on the policy under the file lock and saves it.
func updatePolicy(fn func(*config.Config) error) error {
	p, err := configPath()
	if err != nil {
		return err
	}
	return config.Update(p, fn)
}

func loadPolicy() (*config.Config, error) {
	if scope != nil && scope.viaDaemon {
		v, err := scope.fetchView()
		if err != nil {
			return nil, err
		}
		return config.Parse(v.Config)
	}
	p, err := configPath()
	if err != nil {
		return nil, err
	}
	return config.Load(p)
}

func notRegistered(path string) *cliError {
	return fail(exitUnregistered, "%s is not registered", path).hint("register it with `keychain-auth register %s`", path)
}

// warnInterpreter tells the admin, before it happens, what an entry for an
// interpreter means: it is usually a script that should be registered.
func warnInterpreter(c *cli.Context, path string) {
	if !auth.IsInterpreter(path) {
		return
	}
	fmt.Fprintf(c.App.ErrWriter, "keychain-auth: warning: %s is an interpreter: an entry for it admits every script it runs and every shell, REPL or -c of it\n", path)
	fmt.Fprintln(c.App.ErrWriter, "keychain-auth: hint: register the script itself instead (see SECURITY.md, \"Scripts\")")
}
