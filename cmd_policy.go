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
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "exit 0 if PATH is registered with its current hash (and allowed on SERVICE); 5 unregistered, 3 not allowed",
		ArgsUsage: "PATH [SERVICE]",
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usageError("check takes PATH [SERVICE]")
			}
			path, err := resolvePath(c.Args().Get(0))
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
			service := c.Args().Get(1)
			registered, allowed := policy.Check(cfg, img, service)
			switch {
			case !registered:
				return fail(exitUnregistered, "%s is not registered with hash %s", img.Path, img.Hash)
			case service != "" && !allowed:
				return fail(exitDenied, "%s is registered but not allowed on %q", img.Path, service)
			}
			fmt.Fprintf(c.App.Writer, "%s is registered with hash %s\n", img.Path, img.Hash)
			return nil
		},
	}
}
