package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
)

func permissionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "read", Usage: "service it may read (repeatable)"},
		&cli.StringSliceFlag{Name: "write", Usage: "service it may write and delete in (repeatable)"},
		&cli.BoolFlag{Name: "search", Usage: "may list and use prefix reads and deletes"},
		&cli.StringSliceFlag{Name: "allow-env", Usage: "injection variable (LD_PRELOAD, PYTHONPATH, ...) it may run with (repeatable; see SECURITY.md)"},
		&cli.StringSliceFlag{Name: "run", Usage: "service whose values keychain-auth run may put in its environment when it is the program run (repeatable; " +
			"while it runs, every program of your user can read them, as from a dotfile)"},
	}
}

// permChange is what grant or revoke was asked to change.
type permChange struct {
	read, write, env, run []string
	search                bool
}

func permChangeFrom(c *cli.Context) (permChange, error) {
	pc := permChange{read: c.StringSlice("read"), write: c.StringSlice("write"), env: c.StringSlice("allow-env"), run: c.StringSlice("run"), search: c.Bool("search")}
	for _, s := range slices.Concat(pc.read, pc.write, pc.run) {
		if s == "" {
			return pc, usageError("a service name cannot be empty")
		}
	}
	for _, v := range pc.env {
		if v == "" || strings.ContainsAny(v, "= \t") {
			return pc, usageError("%q is not an environment variable name", v)
		}
	}
	return pc, nil
}

func (pc permChange) empty() bool {
	return len(pc.read) == 0 && len(pc.write) == 0 && len(pc.env) == 0 && len(pc.run) == 0 && !pc.search
}

func grantCommand() *cli.Command {
	return &cli.Command{
		Name:      "grant",
		Usage:     "allow a registered program to use services",
		ArgsUsage: "PATH",
		Flags:     permissionFlags(),
		Action: func(c *cli.Context) error {
			pc, err := permChangeFrom(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 || pc.empty() {
				return usageError("grant takes PATH and at least one of --read S, --write S, --search, --allow-env VAR, --run S")
			}
			return changePermissions(c, c.Args().Get(0), pc, true)
		},
	}
}

func revokeCommand() *cli.Command {
	flags := append(permissionFlags(), &cli.BoolFlag{Name: "all", Usage: "revoke every permission (the entry stays registered)"})
	return &cli.Command{
		Name:      "revoke",
		Usage:     "take permissions away from a program (effective on its next request)",
		ArgsUsage: "PATH",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			pc, err := permChangeFrom(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 || (pc.empty() && !c.Bool("all")) {
				return usageError("revoke takes PATH and --read S, --write S, --search, --allow-env VAR, --run S or --all")
			}
			if c.Bool("all") {
				return revokeAll(c, c.Args().Get(0))
			}
			return changePermissions(c, c.Args().Get(0), pc, false)
		},
	}
}

func authorizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "authorize",
		Usage:     "record a program's current hash (registering it if needed) and allow it read, write and search on one service",
		ArgsUsage: "PATH SERVICE",
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 || c.Args().Get(1) == "" {
				return usageError("authorize takes PATH SERVICE")
			}
			return authorize(c, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

// authorize records the current hash of the file at arg (a new entry, or
// the existing entry's hash replaced, as the original did: a client that
// re-authorizes itself after its own upgrade must not stay refused), then
// grants read, write and search on svc, in one locked update. It says
// which hash it recorded, and warns when an existing entry's other
// permissions carry over to a new hash.
func authorize(c *cli.Context, arg, svc string) error {
	path, err := resolvePath(arg)
	if err != nil {
		return err
	}
	img, err := hashProgram(path)
	if err != nil {
		return err
	}
	warnInterpreter(c, img.Path)
	pin, err := interpreterPin(c, img.Path)
	if err != nil {
		return err
	}
	var before, after config.Entry
	found := false
	err = updatePolicy(func(cfg *config.Config) error {
		_, e := cfg.Find(img.Path)
		if e == nil {
			cfg.RegisteredBinaries = append(cfg.RegisteredBinaries, config.NewEntry(img.Path, img.Hash, time.Now()))
			e = &cfg.RegisteredBinaries[len(cfg.RegisteredBinaries)-1]
		} else {
			found, before = true, *e
		}
		e.Hash, e.Interpreter = img.Hash, pin
		e.GrantRead(svc)
		e.GrantWrite(svc)
		e.CanSearch = true
		after = *e
		return nil
	})
	if err != nil {
		return err
	}
	forgetPending(img.Hash)
	switch {
	case !found:
		fmt.Fprintf(c.App.Writer, "Registered %s with hash %s\n", img.Path, img.Hash)
	case before.Hash != img.Hash:
		fmt.Fprintf(c.App.Writer, "Upgraded %s to new hash %s\n", img.Path, img.Hash)
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: warning: the entry's other permissions apply to the new hash too (read: %s; write: %s; search: %t)\n",
			listOrNone(before.AllowedReadServices), listOrNone(before.AllowedWriteServices), before.CanSearch)
	}
	fmt.Fprintf(c.App.Writer, "Authorized %s for service %s\n", img.Path, svc)
	printEntry(c, &after)
	return nil
}

func changePermissions(c *cli.Context, arg string, pc permChange, grant bool) error {
	path, err := resolvePath(arg)
	if err != nil {
		return err
	}
	var after config.Entry
	err = updatePolicy(func(cfg *config.Config) error {
		_, e := cfg.Find(path)
		if e == nil {
			return notRegistered(path)
		}
		if grant {
			e.GrantRead(pc.read...)
			e.GrantWrite(pc.write...)
			for _, v := range pc.env {
				if !slices.Contains(e.AllowEnv, v) {
					e.AllowEnv = append(e.AllowEnv, v)
				}
			}
			e.CanSearch = e.CanSearch || pc.search
			e.GrantRun(pc.run...)
		} else {
			e.RevokeRead(pc.read...)
			e.RevokeWrite(pc.write...)
			e.AllowEnv = slices.DeleteFunc(slices.Clone(e.AllowEnv), func(v string) bool { return slices.Contains(pc.env, v) })
			e.CanSearch = e.CanSearch && !pc.search
			e.RevokeRun(pc.run...)
		}
		after = *e
		return nil
	})
	if err != nil {
		return err
	}
	if grant && len(pc.run) > 0 {
		warnRunGrant(c, path, pc.run)
	}
	printEntry(c, &after)
	return nil
}

// warnRunGrant says what --run gives away: the values reach the program
// through its environment, which the user's other programs can read.
func warnRunGrant(c *cli.Context, path string, services []string) {
	fmt.Fprintf(c.App.ErrWriter, "keychain-auth: warning: `keychain-auth run -- %s` now puts the values of %s into its environment, "+
		"from a prompt, a Makefile or CI alike; while it runs, every program of your user can read them there (/proc/PID/environ), "+
		"as if they were in a dotfile (SECURITY.md, \"run\")\n", printable(path), strings.Join(services, ", "))
}

func revokeAll(c *cli.Context, arg string) error {
	path, err := resolvePath(arg)
	if err != nil {
		return err
	}
	err = updatePolicy(func(cfg *config.Config) error {
		_, e := cfg.Find(path)
		if e == nil {
			return notRegistered(path)
		}
		e.AllowedReadServices, e.AllowedWriteServices, e.CanSearch, e.AllowEnv = []string{}, []string{}, false, nil
		e.AllowedRunServices = nil
		return nil
	})
	if err == nil {
		fmt.Fprintf(c.App.Writer, "Revoked every permission of %s\n", path)
	}
	return err
}
