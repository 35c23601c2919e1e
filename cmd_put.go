package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
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
		Usage:     "store a secret read from stdin (never from the command line); at a terminal: any number of lines, then Enter and " + eofKeys,
		ArgsUsage: "SERVICE TARGET",
		Flags:     []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usageError("put takes SERVICE TARGET and reads the value from stdin")
			}
			service, target := c.Args().Get(0), c.Args().Get(1)
			tty := terminalIn(c)
			if tty != nil {
				// Someone is about to type a secret: first make sure it
				// would not be refused whatever it is.
				if err := askBeforeValue(c, service, target); err != nil {
					return err
				}
			}
			value, err := readValue(c, tty, service, target)
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
						printable(service), printable(target))
			}
			_, err = roundTrip(c, &transport.Request{Action: transport.ActionWrite, Service: service,
				Targets: []string{target}, Values: []secret.Value{value}})
			return err
		},
	}
}

// readValue reads the value from stdin: at a terminal without echo until
// end of input, else the whole input; in both cases one trailing newline
// is removed (as `echo x |` adds one).
func readValue(c *cli.Context, tty *os.File, service, target string) (secret.Value, error) {
	if tty != nil {
		return readHiddenText(c, tty, fmt.Sprintf("Value for %s %s", printable(service), printable(target)))
	}
	b, err := io.ReadAll(io.LimitReader(c.App.Reader, maxValue+1))
	defer clear(b)
	if err != nil {
		return "", fmt.Errorf("read value from stdin: %w", err)
	}
	if len(b) > maxValue {
		return "", fail(exitError, "value on stdin is over %d bytes", maxValue)
	}
	return trimmedValue(b), nil
}

// trimmedValue is b without one trailing "\n" or "\r\n", as a value.
func trimmedValue(b []byte) secret.Value {
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return secret.New(strings.Clone(string(b)))
}

// askBeforeValue asks the daemon, before a value is typed, what would
// refuse the write whatever the value: no daemon (exit 6), a locked store,
// or a caller it serves nothing (not registered, and then queued for
// approval as the write would have been; not a script; an injected
// environment; ...). The protocol decides a write only on the write line,
// which carries the value, so the caller is tested with a search on the
// same service and target (names only, never a value; the audit log shows
// it as a search). Its service_not_allowed or action_not_in_policy says
// nothing about writing (an entry may write without reading or
// searching), so put then goes on and the write is decided as usual.
func askBeforeValue(c *cli.Context, service, target string) error {
	cl, err := connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Status()
	if err != nil {
		return fmt.Errorf("ask daemon for status: %w", err)
	}
	if st.Locked {
		return fail(exitError, "the secret store is locked, so nothing was asked for").hint("unlock it with `keychain-auth unlock`, then run put again")
	}
	resp, err := cl.Do(&transport.Request{Type: transport.TypeRequest, Action: transport.ActionSearch,
		Service: service, Targets: []string{target}})
	if err != nil {
		return fmt.Errorf("talk to daemon: %w", err)
	}
	switch {
	case resp.Status == transport.StatusSuccess,
		resp.Reason == transport.ReasonServiceNotAllowed,
		resp.Reason == transport.ReasonActionNotInPolicy:
		return nil
	}
	e := refusal(resp)
	e.msg += "; the value was not asked for"
	return e
}
