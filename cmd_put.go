package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/secret"
	"github.com/keychain-auth/keychain-auth/transport"
)

// maxValue bounds what put reads from stdin; the daemon's line limit is
// the real bound, this only keeps a runaway pipe from filling memory.
const maxValue = 1 << 20

func putCommand() *cli.Command {
	return &cli.Command{
		Name:      "put",
		Usage:     "store a secret read from stdin (never from the command line)",
		ArgsUsage: "SERVICE TARGET",
		Flags:     []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usageError("put takes SERVICE TARGET and reads the value from stdin")
			}
			value, err := readValue(c)
			if err != nil {
				return err
			}
			_, err = roundTrip(c, &transport.Request{Action: transport.ActionWrite, Service: c.Args().Get(0),
				Targets: []string{c.Args().Get(1)}, Values: []secret.Value{value}})
			return err
		},
	}
}

// readValue reads the value from stdin: without echo at a terminal, else the
// whole input with one trailing newline removed (as `echo x |` adds one).
func readValue(c *cli.Context) (secret.Value, error) {
	if tty := terminalIn(c); tty != nil {
		return readHidden(c, tty, "Value: ", "value")
	}
	b, err := io.ReadAll(io.LimitReader(c.App.Reader, maxValue+1))
	if err != nil {
		return "", fmt.Errorf("read value from stdin: %w", err)
	}
	if len(b) > maxValue {
		return "", fail(exitError, "value on stdin is over %d bytes", maxValue)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return secret.New(strings.Clone(string(b))), nil
}
