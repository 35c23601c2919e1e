package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/config"
)

func registerCommand() *cli.Command {
	return &cli.Command{
		Name:      "register",
		Usage:     "register a program or script by path and current hash (grants nothing)",
		ArgsUsage: "PATH",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("register takes PATH")
			}
			return register(c, c.Args().Get(0))
		},
	}
}

// errUnchanged is returned by a policy change that finds nothing to do;
// recordProgram then writes nothing and reports success.
var errUnchanged = errors.New("policy unchanged")

// register adds PATH with its current hash. Registering it again with the
// same hash succeeds and changes nothing (installers run it on every
// reinstall); with another hash it is refused with a hint to upgrade.
func register(c *cli.Context, arg string) error {
	return recordProgram(c, arg, "Registered %s with hash %s\n", func(cfg *config.Config, img auth.Image, pin *config.Interpreter, pinErr error) error {
		if _, e := cfg.Find(img.Path); e != nil {
			if e.Hash == img.Hash {
				return errUnchanged
			}
			return fail(exitError, "%s is already registered with another hash", img.Path).
				hint("after an update, use `keychain-auth upgrade %s`", img.Path)
		}
		if pinErr != nil {
			return pinErr
		}
		e := config.NewEntry(img.Path, img.Hash, time.Now())
		e.Interpreter = pin
		cfg.RegisteredBinaries = append(cfg.RegisteredBinaries, e)
		return nil
	})
}

func upgradeCommand() *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "record a registered program's new hash after an update (keeps its permissions)",
		ArgsUsage: "PATH",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("upgrade takes PATH")
			}
			return recordProgram(c, c.Args().Get(0), "Upgraded %s to new hash %s\n", func(cfg *config.Config, img auth.Image, pin *config.Interpreter, pinErr error) error {
				_, e := cfg.Find(img.Path)
				if e == nil {
					return notRegistered(img.Path)
				}
				if pinErr != nil {
					return pinErr
				}
				// The #! line as it is now: upgrade is also how an entry
				// registered before interpreters were pinned gets its pin.
				e.Hash, e.Interpreter = img.Hash, pin
				return nil
			})
		},
	}
}

// recordProgram hashes the file at arg, applies change to the policy under
// its lock, drops the program from the approval queue and prints done.
//
// A script's #! line is read for the interpreter pin first; an error there
// reaches change, which decides whether it matters (a repeated register
// that changes nothing still succeeds).
func recordProgram(c *cli.Context, arg, done string, change func(*config.Config, auth.Image, *config.Interpreter, error) error) error {
	path, err := resolvePath(arg)
	if err != nil {
		return err
	}
	img, err := hashProgram(path)
	if err != nil {
		return err
	}
	warnInterpreter(c, img.Path)
	pin, pinErr := interpreterPin(c, img.Path)
	err = updatePolicy(func(cfg *config.Config) error { return change(cfg, img, pin, pinErr) })
	if errors.Is(err, errUnchanged) {
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: hint: %s was already registered with this hash; nothing changed\n", img.Path)
		fmt.Fprintf(c.App.Writer, done, img.Path, img.Hash)
		return nil
	}
	if err != nil {
		return err
	}
	forgetPending(img.Hash)
	fmt.Fprintf(c.App.Writer, done, img.Path, img.Hash)
	return nil
}

func unregisterCommand() *cli.Command {
	return &cli.Command{
		Name:      "unregister",
		Usage:     "remove a program from the policy",
		ArgsUsage: "PATH",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("unregister takes PATH")
			}
			path, err := resolvePath(c.Args().Get(0))
			if err != nil {
				return err
			}
			err = updatePolicy(func(cfg *config.Config) error {
				if !cfg.Remove(path) {
					return notRegistered(path)
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Unregistered %s\n", path)
			return nil
		},
	}
}

// forgetPending drops a queued request once its program is in the policy.
// Failing to is harmless (the record expires), so it is not an error.
func forgetPending(hash string) {
	if q, err := pendingQueue(); err == nil && mayRewriteQueue(q.Path) {
		_ = q.Remove(hash)
		giveBackQueue(q.Path)
	}
}
