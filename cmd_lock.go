package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/secret"
	"github.com/keychain-auth/keychain-auth/transport"
)

// maxPassphrase bounds one passphrase line read from stdin.
const maxPassphrase = 64 << 10

func lockCommand() *cli.Command {
	return &cli.Command{
		Name:  "lock",
		Usage: "make the running daemon forget the vault key until `unlock`",
		Flags: []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("lock takes no arguments")
			}
			if err := adminCall(c, adminMessage{Type: transport.TypeLock}); err != nil {
				return err
			}
			fmt.Fprintln(c.App.ErrWriter, "keychain-auth: the store is locked; requests answer store_locked until `keychain-auth unlock`")
			return nil
		},
	}
}

func unlockCommand() *cli.Command {
	return &cli.Command{
		Name:  "unlock",
		Usage: "unlock the running daemon's vault (passphrase from the terminal, or a line on stdin)",
		Flags: []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("unlock takes no arguments; the passphrase is read from the terminal or stdin")
			}
			cl, endpoint, err := dialAdmin(c)
			if err != nil {
				return err
			}
			defer cl.close()
			if locked, err := storeLocked(c); err != nil || !locked {
				return err
			}
			pass, err := newPassReader(c).read("Vault passphrase (empty for a key-file vault): ")
			if err != nil {
				return err
			}
			if err := cl.call(adminMessage{Type: transport.TypeUnlock, Passphrase: pass}, endpoint); err != nil {
				return err
			}
			fmt.Fprintln(c.App.ErrWriter, "keychain-auth: the store is unlocked")
			return nil
		},
	}
}

// storeLocked asks the daemon whether its store is locked, so that unlock
// asks for no passphrase when there is nothing to unlock (an open vault, a
// key-file vault, a native keyring, system mode); it says so on stderr.
func storeLocked(c *cli.Context) (bool, error) {
	st, err := daemonStatus(c)
	if err != nil {
		return false, err
	}
	if !st.Locked {
		fmt.Fprintf(c.App.ErrWriter, "keychain-auth: the store (%s) is not locked; no passphrase was asked for\n", st.Backend)
	}
	return st.Locked, nil
}

// daemonStatus asks the running daemon for its STATUS answer, on a
// connection of its own.
func daemonStatus(c *cli.Context) (*transport.StatusInfo, error) {
	cl, err := connect(c)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	st, err := cl.Status()
	if err != nil {
		return nil, fmt.Errorf("ask daemon for status: %w", err)
	}
	return st, nil
}

// adminMessage is a LOCK, UNLOCK or PASSWD line. It is encoded by hand in
// encode, never by encoding/json on this type, so passphrases leave the
// process only on the daemon's socket.
type adminMessage struct {
	Type                      string
	Passphrase, NewPassphrase secret.Value
}

func (m adminMessage) encode() ([]byte, error) {
	w := map[string]string{"type": m.Type}
	switch m.Type {
	case transport.TypeUnlock:
		w["passphrase"] = m.Passphrase.Reveal()
	case transport.TypePasswd:
		w["passphrase"] = m.Passphrase.Reveal()
		w["new_passphrase"] = m.NewPassphrase.Reveal()
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type, err)
	}
	return append(b, '\n'), nil
}

// adminConn is one connection to the daemon for lifecycle messages. It is
// opened with dialDaemon, which sends nothing to an endpoint it cannot trust.
type adminConn struct {
	conn  io.ReadWriteCloser
	lines *transport.LineReader
}

// dialAdmin connects before any passphrase is asked for, so that a daemon
// that is not running is reported first (exit 6).
func dialAdmin(c *cli.Context) (*adminConn, string, error) {
	conn, ch, err := dialDaemon(c.String("socket"))
	if err != nil {
		return nil, ch.path, err
	}
	return &adminConn{conn: conn, lines: transport.NewLineReader(conn, transport.MaxResponseLine)}, ch.path, nil
}

func (a *adminConn) close() { a.conn.Close() }

// call sends one admin message and turns the answer into an error.
func (a *adminConn) call(m adminMessage, endpoint string) error {
	line, err := m.encode()
	if err != nil {
		return err
	}
	_, err = a.conn.Write(line)
	clear(line)
	if err != nil {
		return fmt.Errorf("send %s to %s: %w", m.Type, endpoint, err)
	}
	raw, err := a.lines.ReadLine()
	if err != nil {
		return fmt.Errorf("read answer to %s: %w", m.Type, err)
	}
	var resp transport.Response
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Type != transport.TypeResponse {
		return fmt.Errorf("read answer to %s: not a RESPONSE line", m.Type)
	}
	if resp.Status == transport.StatusSuccess {
		return nil
	}
	return lifecycleRefusal(&resp)
}

// adminCall connects, sends one message and closes.
func adminCall(c *cli.Context, m adminMessage) error {
	a, endpoint, err := dialAdmin(c)
	if err != nil {
		return err
	}
	defer a.close()
	return a.call(m, endpoint)
}

func lifecycleRefusal(resp *transport.Response) error {
	switch resp.Reason {
	case transport.ReasonBadPassphrase:
		return fail(exitDenied, "wrong passphrase")
	case transport.ReasonNotLockable:
		return fail(exitError, "the daemon's store cannot be locked, unlocked or re-keyed by keychain-auth").
			hint("only the file vault can; a native keyring is locked and unlocked with the system's own tools")
	case transport.ReasonStoreLocked:
		return fail(exitError, "the store is locked").hint("unlock it first with `keychain-auth unlock`")
	}
	return refusal(resp)
}

// passReader reads passphrases: from the terminal without echo, or one line
// at a time from stdin when it is not a terminal (for scripts and tests).
// A passphrase never comes from argv or the environment here.
type passReader struct {
	c   *cli.Context
	tty *os.File
	in  *bufio.Reader
}

func newPassReader(c *cli.Context) *passReader {
	if tty := terminalIn(c); tty != nil {
		return &passReader{c: c, tty: tty}
	}
	return &passReader{c: c, in: bufio.NewReaderSize(c.App.Reader, 4096)}
}

func (p *passReader) read(prompt string) (secret.Value, error) {
	if p.tty != nil {
		return readHidden(p.c, p.tty, prompt, "passphrase")
	}
	var b strings.Builder
	for {
		frag, isPrefix, err := p.in.ReadLine()
		b.Write(frag)
		if b.Len() > maxPassphrase {
			return "", fail(exitError, "passphrase line on stdin is over %d bytes", maxPassphrase)
		}
		if err == io.EOF && b.Len() > 0 {
			break
		}
		if err != nil {
			return "", fail(exitError, "no passphrase line on stdin (%s)", strings.TrimSpace(prompt))
		}
		if !isPrefix {
			break
		}
	}
	return secret.New(strings.TrimSuffix(b.String(), "\r")), nil
}
