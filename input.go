package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keychain-auth/keychain-auth/secret"
)

// terminalIn is stdin when it is a terminal, else nil: secrets are then
// typed without echo rather than read as data.
func terminalIn(c *cli.Context) *os.File {
	if f, ok := c.App.Reader.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// readHidden prompts on stderr and reads one line from the terminal tty
// without echoing it.
func readHidden(c *cli.Context, tty *os.File, prompt, what string) (secret.Value, error) {
	fmt.Fprint(c.App.ErrWriter, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	return secret.New(string(b)), nil
}
