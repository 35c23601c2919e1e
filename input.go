package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

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

// errNoLineMode is echoOff's answer where this OS's glue is not written.
var errNoLineMode = errors.New("no echo-off line mode for this terminal")

// readHiddenText reads a value of any number of lines from the terminal
// tty without echo, until end of input: Ctrl-D on an empty line (eofKeys;
// on Windows Ctrl-Z, then Enter). The terminal keeps its line editing
// (Backspace, Ctrl-U), so a pasted PEM key arrives as pasted. One trailing
// newline is dropped, as for a pipe. Interrupted (Ctrl-C), it puts the
// terminal back before the signal takes its usual effect; stopped and
// resumed (Ctrl-Z, fg), it turns echo off again.
func readHiddenText(c *cli.Context, tty *os.File, prompt string) (secret.Value, error) {
	restore, err := echoOff(int(tty.Fd()))
	if errors.Is(err, errNoLineMode) {
		return readHidden(c, tty, prompt+" (one line, then Enter): ", "value")
	}
	if err != nil {
		return "", fmt.Errorf("turn off echo: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	cont := make(chan os.Signal, 1)
	if cs := contSignals(); len(cs) > 0 {
		signal.Notify(cont, cs...)
		defer signal.Stop(cont)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s (not shown as you type; several lines are fine).\nWhen done, press Enter, then %s:\n", prompt, eofKeys)
	done := make(chan readResult, 1)
	go func() { done <- readToEOF(tty) }()
	for {
		select {
		case r := <-done:
			restore()
			fmt.Fprintln(c.App.ErrWriter)
			return textValue(r)
		case sig := <-sigs:
			restore()
			fmt.Fprintln(c.App.ErrWriter)
			reraise(sig)
			return "", fail(exitError, "interrupted; nothing was stored")
		case <-cont:
			// Resumed after a stop: the shell may have turned echo back
			// on; turn it off again (restore keeps the first settings).
			if _, err := echoOff(int(tty.Fd())); err != nil {
				restore()
				return "", fmt.Errorf("turn off echo again after a stop: %w", err)
			}
		}
	}
}

type readResult struct {
	b   []byte
	err error
}

// readToEOF reads tty until end of input, at most maxValue+1 bytes.
func readToEOF(tty *os.File) readResult {
	var b []byte
	chunk := make([]byte, 4096)
	defer clear(chunk)
	for len(b) <= maxValue {
		n, err := tty.Read(chunk)
		b = append(b, chunk[:n]...)
		if errors.Is(err, io.EOF) {
			return readResult{b: b}
		}
		if err != nil {
			return readResult{b: b, err: err}
		}
	}
	return readResult{b: b}
}

func textValue(r readResult) (secret.Value, error) {
	defer clear(r.b)
	switch {
	case r.err != nil:
		return "", fmt.Errorf("read value from the terminal: %w", r.err)
	case len(r.b) > maxValue:
		return "", fail(exitError, "the value typed is over %d bytes; nothing was stored", maxValue).
			hint("pipe a long value instead: `keychain-auth put SERVICE TARGET < FILE` from a registered script")
	case len(r.b) == 0:
		return "", fail(exitError, "no value was typed; nothing was stored").
			hint("type the value, press Enter, then %s; an empty value can be piped: `printf '' | keychain-auth put ...`", eofKeys)
	}
	return trimmedValue(r.b), nil
}

// reraise lets sig end the process as it would have without our handler;
// where a process cannot signal itself (Windows), it exits.
func reraise(sig os.Signal) {
	signal.Reset(sig)
	if p, err := os.FindProcess(os.Getpid()); err == nil && p.Signal(sig) == nil {
		time.Sleep(time.Second)
	}
	os.Exit(exitError)
}
