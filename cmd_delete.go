package main

import (
	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/transport"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a secret (deleting a missing one succeeds)",
		ArgsUsage: "SERVICE TARGET",
		Flags:     []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usageError("delete takes SERVICE TARGET")
			}
			_, err := roundTrip(c, &transport.Request{Action: transport.ActionDelete, Service: c.Args().Get(0),
				Targets: []string{c.Args().Get(1)}})
			return err
		},
	}
}
