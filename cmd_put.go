package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

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
			if !utf8.ValidString(value.Reveal()) {
				// The protocol carries values as JSON strings, which hold
				// Unicode text: encoding/json would replace each bad byte
				// with U+FFFD and the daemon would store another value
				// than the one given, so nothing is sent.
				return fail(exitError, "the value is not valid UTF-8 text; nothing was stored").
					hint("store binary data in a text encoding, e.g. `base64 < FILE | keychain-auth put %s %s`, and decode it after `get`",
						printable(c.Args().Get(0)), printable(c.Args().Get(1)))
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
