package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/policy"
)

func policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "show the registered programs and what each may do",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print config.json as stored"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("policy takes no arguments")
			}
			cfg, err := loadPolicy()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(cfg)
			}
			if len(cfg.RegisteredBinaries) == 0 {
				fmt.Fprintln(c.App.Writer, "No registered programs.")
				return nil
			}
			for i := range cfg.RegisteredBinaries {
				printEntry(c, &cfg.RegisteredBinaries[i])
			}
			return nil
		},
	}
}

func printEntry(c *cli.Context, e *config.Entry) {
	w := c.App.Writer
	fmt.Fprintf(w, "%s\n", printable(e.Path))
	fmt.Fprintf(w, "  hash:       %s\n", e.Hash)
	fmt.Fprintf(w, "  registered: %s\n", e.RegisteredAt)
	fmt.Fprintf(w, "  read:       %s\n", listOrNone(e.AllowedReadServices))
	fmt.Fprintf(w, "  write:      %s\n", listOrNone(e.AllowedWriteServices))
	fmt.Fprintf(w, "  search:     %t\n", e.CanSearch)
	if len(e.AllowEnv) > 0 {
		fmt.Fprintf(w, "  allow env:  %s\n", strings.Join(e.AllowEnv, ", "))
	}
	if in := e.Interpreter; in != nil {
		pinned := "by path"
		if in.Hash != "" {
			pinned = "by path and hash " + in.Hash
		}
		fmt.Fprintf(w, "  runs as:    %s%s (pinned %s)\n", printable(in.Path), printable(optionsText(in.Options)), pinned)
	}
	if len(e.AllowedRunServices) > 0 {
		// The values reach the program's environment, readable by the
		// user's other programs while it runs: say so where it is listed.
		fmt.Fprintf(w, "  via run:    %s (put in its environment by `run`: readable by your other programs while it runs)\n", strings.Join(e.AllowedRunServices, ", "))
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name: "check",
		Usage: "exit 0 if PATH is registered with its current hash and, with SERVICE, may read, write and search on it " +
			"(or only what --read, --write, --search name); 5 unregistered, 3 not allowed, 1 when PATH cannot be read",
		ArgsUsage: "PATH [SERVICE]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "read", Usage: "ask only whether it may read SERVICE (with --write, --search: each named)"},
			&cli.BoolFlag{Name: "write", Usage: "ask whether it may write SERVICE"},
			&cli.BoolFlag{Name: "search", Usage: "ask whether it may search (can_search)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usageError("check takes PATH [SERVICE]")
			}
			service := c.Args().Get(1)
			need, err := checkNeed(c, service)
			if err != nil {
				return err
			}
			return check(c, c.Args().Get(0), service, need)
		},
	}
}

// checkNeed is what check asks: the flags given, else (with SERVICE) read,
// write and search, as the original meant `check PATH SERVICE`.
func checkNeed(c *cli.Context, service string) (policy.Need, error) {
	need := policy.Need{Read: c.Bool("read"), Write: c.Bool("write"), Search: c.Bool("search")}
	switch {
	case (need.Read || need.Write) && service == "":
		return need, usageError("--read and --write need a SERVICE")
	case need == policy.Need{} && service != "":
		return policy.NeedAll, nil
	}
	return need, nil
}

func check(c *cli.Context, arg, service string, need policy.Need) error {
	path, err := resolvePath(arg)
	if err != nil {
		return err
	}
	img, err := hashProgram(path)
	if err != nil {
		return err
	}
	cfg, err := loadPolicy()
	if err != nil {
		return err
	}
	registered, allowed := policy.Check(cfg, img, service, need)
	switch {
	case !registered:
		return fail(exitUnregistered, "%s is not registered with hash %s", img.Path, img.Hash)
	case !allowed:
		return fail(exitDenied, "%s is registered but may not %s", img.Path, needText(need, service))
	}
	fmt.Fprintf(c.App.Writer, "%s is registered with hash %s\n", img.Path, img.Hash)
	return nil
}

// needText says what was asked, for the refusal: "read, write and search on "svc"".
func needText(need policy.Need, service string) string {
	var parts []string
	for _, p := range []struct {
		on   bool
		word string
	}{{need.Read, "read"}, {need.Write, "write"}, {need.Search, "search"}} {
		if p.on {
			parts = append(parts, p.word)
		}
	}
	text := strings.Join(parts, ", ")
	if i := strings.LastIndex(text, ", "); i >= 0 {
		text = text[:i] + " and " + text[i+2:]
	}
	if need.Read || need.Write {
		text += fmt.Sprintf(" on %q", service)
	}
	return text
}

// optionsText is a script entry's pinned interpreter options as they
// follow the interpreter on a command line ("" for none).
func optionsText(opts []string) string {
	if len(opts) == 0 {
		return ""
	}
	return " " + strings.Join(opts, " ")
}
