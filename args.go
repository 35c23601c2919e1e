package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs puts a command line into the one order urfave/cli v2 parses:
// the command, its flags, then its positional arguments. Users also write a
// command's flags before the command (`keychain-auth --socket X status`,
// as with git or kubectl) and after its arguments (the contract's `grant
// PATH --read S`); both are moved. A literal "--" ends flag reading as
// usual.
func reorderArgs(app *cli.App, args []string) []string {
	args = hoistCommand(app, args)
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	var flags, positional []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		if tok == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if !strings.HasPrefix(tok, "-") || tok == "-" {
			positional = append(positional, tok)
			continue
		}
		flags = append(flags, tok)
		if takesValue(cmd, tok) && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	return append(out, positional...)
}

// hoistCommand moves a command name that follows flags to the front:
// `ka --socket X status --json` becomes `ka status --socket X --json`. The
// flags stay the command's own: keychain-auth has no global option but
// --help and --version, and a command line that names one of those, or
// flags with no command after them, is left alone for urfave/cli to
// answer. Whether a leading flag takes the next word as its value is
// judged before the command is known: it does when some command defines it
// so (the flags that take values, such as --socket, do so everywhere).
func hoistCommand(app *cli.App, args []string) []string {
	if len(args) < 3 || !strings.HasPrefix(args[1], "-") {
		return args
	}
	for i := 1; i < len(args); i++ {
		tok := args[i]
		if tok == "--" || tok == "-" || !strings.HasPrefix(tok, "-") {
			cmd := app.Command(tok)
			if cmd == nil {
				return args
			}
			out := append([]string{args[0], tok}, args[1:i]...)
			return append(out, args[i+1:]...)
		}
		if isAppFlag(app, tok) {
			return args
		}
		if anyTakesValue(app, tok) {
			i++
		}
	}
	return args
}

// isAppFlag reports whether tok names one of the app's own flags (--help,
// --version).
func isAppFlag(app *cli.App, tok string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(tok, "-"), "=")
	for _, f := range append(app.Flags, cli.VersionFlag) {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// anyTakesValue reports whether some command defines tok as a flag that
// takes the next word as its value.
func anyTakesValue(app *cli.App, tok string) bool {
	for _, cmd := range app.Commands {
		if takesValue(cmd, tok) {
			return true
		}
	}
	return false
}

// takesValue reports whether tok ("--read" or "-n") names a flag of cmd
// that takes its value from the next argument.
func takesValue(cmd *cli.Command, tok string) bool {
	name := strings.TrimLeft(tok, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if df, ok := f.(cli.DocGenerationFlag); ok {
				return df.TakesValue()
			}
		}
	}
	return false
}
