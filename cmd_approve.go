package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
)

func approveCommand() *cli.Command {
	return &cli.Command{
		Name:      "approve",
		Usage:     "register a program waiting in the approval queue (a new path gets no permission; a registered path's new hash keeps its permissions, as with upgrade)",
		ArgsUsage: "HASH [PATH]",
		Description: "HASH is as list-pending shows it (sha256:<hex>; bare hex accepted). " +
			"With PATH, the file at PATH must have that hash; without it, the path queued with the hash is used.",
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usageError("approve takes HASH [PATH]")
			}
			return approve(c, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

func approve(c *cli.Context, hashArg, pathArg string) error {
	hash, err := normalizeHash(hashArg)
	if err != nil {
		return err
	}
	path, err := approvalPath(hash, pathArg)
	if err != nil {
		return err
	}
	warnInterpreter(c, path)
	pin, err := approvalPin(c, path, hash)
	if err != nil {
		return err
	}
	var kept *config.Entry // the entry whose permissions the new hash inherits
	err = updatePolicy(func(cfg *config.Config) error {
		if _, e := cfg.Find(path); e != nil {
			// Approving a known path is an upgrade: its permissions stay.
			e.Hash, e.Interpreter = hash, pin
			cp := *e
			kept = &cp
			return nil
		}
		ne := config.NewEntry(path, hash, time.Now())
		ne.Interpreter = pin
		cfg.RegisteredBinaries = append(cfg.RegisteredBinaries, ne)
		return nil
	})
	if err != nil {
		return err
	}
	forgetPending(hash)
	fmt.Fprintf(c.App.Writer, "Approved %s with hash %s\n", path, hash)
	if kept != nil {
		// The admin may think approving grants nothing; here it does not
		// start from nothing, so say what the new content may do.
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: warning: %s was already registered; its new hash keeps its permissions (read: %s; write: %s; search: %t)\n",
			path, listOrNone(kept.AllowedReadServices), listOrNone(kept.AllowedWriteServices), kept.CanSearch)
		return nil
	}
	fmt.Fprintf(c.App.ErrWriter, "keychain-auth: hint: it may use nothing yet; allow services with `keychain-auth grant %s --read SERVICE`\n", path)
	return nil
}

// approvalPath is the path to approve HASH for: PATH when given (its file
// must hash to HASH), else the path queued with HASH.
func approvalPath(hash, pathArg string) (string, error) {
	if pathArg != "" {
		path, err := resolvePath(pathArg)
		if err != nil {
			return "", err
		}
		img, err := hashProgram(path)
		if err != nil {
			return "", err
		}
		if img.Hash != hash {
			return "", fail(exitError, "%s has hash %s, not %s", img.Path, img.Hash, hash).
				hint("the file changed since it was queued, or the hash belongs to another file")
		}
		return img.Path, nil
	}
	q, err := pendingQueue()
	if err != nil {
		return "", err
	}
	recs, err := q.List()
	if err != nil {
		return "", err
	}
	for _, r := range recs {
		if r.Hash == hash {
			return r.Path, nil
		}
	}
	return "", fail(exitError, "no pending program has hash %s", hash).
		hint("`keychain-auth list-pending` shows the queue; give PATH to approve a file directly")
}

// approvalPin is the interpreter pin of a script being approved, read from
// the file at path when it still has the approved hash. When it does not,
// the #! line of the approved content is unknown: the entry gets no pin,
// and the admin is told that `upgrade` sets one once the file matches.
func approvalPin(c *cli.Context, path, hash string) (*config.Interpreter, error) {
	img, err := hashProgram(path)
	if err != nil || img.Hash != hash {
		if prog, _, _ := readShebang(path); prog == "" {
			return nil, nil // not a script (or unreadable): nothing to pin
		}
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: note: %s no longer has the approved content, so its #! line is not pinned; `keychain-auth upgrade %s` pins it from the file as it is\n", path, path)
		return nil, nil
	}
	return interpreterPin(c, path)
}
