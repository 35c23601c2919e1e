package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/transport"
)

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the target names in a service (never values)",
		ArgsUsage: "SERVICE [PREFIX]",
		Flags:     []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usageError("ls takes SERVICE [PREFIX]")
			}
			req := &transport.Request{Action: transport.ActionSearch, Service: c.Args().Get(0)}
			if c.NArg() == 2 {
				req.Targets = []string{c.Args().Get(1)}
			}
			resp, err := roundTrip(c, req)
			if err != nil {
				return err
			}
			for _, r := range resp.Results {
				fmt.Fprintln(c.App.Writer, r.Target)
			}
			return nil
		},
	}
}
