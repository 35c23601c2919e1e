package main

import (
	"github.com/urfave/cli/v2"
)

// helpCommand replaces urfave/cli's own help command (hidden in newApp) so
// that an unknown topic is a usage error with the usual exit code 2, not
// the library's exit 3, which the contract reserves for "denied".
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the commands, or one command's flags",
		ArgsUsage: "[COMMAND]",
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageError("help takes at most one command name")
			}
			name := c.Args().First()
			if name == "" {
				return cli.ShowAppHelp(c)
			}
			cmd := c.App.Command(name)
			if cmd == nil {
				return usageError("unknown command %q", name).hint("run `keychain-auth help` for the list")
			}
			// Not cli.ShowCommandHelp: called from a command it searches that
			// command's (empty) subcommands instead of the app's commands.
			cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, cmd)
			return nil
		},
	}
}
