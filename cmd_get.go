package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keychain-auth/keychain-auth/transport"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print a secret's value on stdout",
		ArgsUsage: "SERVICE TARGET",
		Flags:     []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usageError("get takes SERVICE TARGET")
			}
			return get(c, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

func get(c *cli.Context, service, target string) error {
	resp, err := roundTrip(c, &transport.Request{Action: transport.ActionRead, Service: service, Targets: []string{target}})
	if err != nil {
		return err
	}
	if len(resp.Results) == 0 {
		return fail(exitNotFound, "%s/%s not found", service, target)
	}
	// The value goes out exactly as stored; a newline is added only for a
	// person at a terminal, never for a script capturing the output.
	out := resp.Results[0].Value.Reveal()
	if f, ok := c.App.Writer.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		out += "\n"
	}
	_, err = fmt.Fprint(c.App.Writer, out)
	return err
}
