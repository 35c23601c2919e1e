package main

import (
	"bytes"
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
// without echoing it (a passphrase).
func readHidden(c *cli.Context, tty *os.File, prompt, what string) (secret.Value, error) {
	r, err := readNoEcho(c, tty, true, func() { fmt.Fprint(c.App.ErrWriter, prompt) })
	fmt.Fprintln(c.App.ErrWriter)
	defer clear(r.b)
	if err == nil {
		err = r.err
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	line := bytes.TrimSuffix(bytes.TrimSuffix(r.b, []byte("\n")), []byte("\r"))
	return secret.New(string(line)), nil
}

// errNoLineMode is echoOff's answer where this OS's glue is not written.
var errNoLineMode = errors.New("no echo-off line mode for this terminal")

// readHiddenText reads a value of any number of lines from the terminal
// tty without echo, until end of input: Ctrl-D on an empty line (eofKeys;
// on Windows Ctrl-Z, then Enter). The terminal keeps its line editing
// (Backspace, Ctrl-U), so a pasted PEM key arrives as pasted. One trailing
// newline is dropped, as for a pipe.
func readHiddenText(c *cli.Context, tty *os.File, prompt string) (secret.Value, error) {
	r, err := readNoEcho(c, tty, false, func() {
		fmt.Fprintf(c.App.ErrWriter, "%s (not shown as you type; several lines are fine).\nWhen done, press Enter, then %s:\n", prompt, eofKeys)
	})
	if errors.Is(err, errNoLineMode) {
		return readHidden(c, tty, prompt+" (one line, then Enter): ", "value")
	}
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		clear(r.b)
		return "", fmt.Errorf("read value from the terminal: %w", err)
	}
	return textValue(r)
}

// readNoEcho reads tty with echo off and line editing on: one line, or
// everything until end of input; ready (the prompt) runs once echo is off.
// Interrupted (Ctrl-C, SIGTERM), it puts the terminal back before the
// signal takes its usual effect; stopped and resumed (Ctrl-Z, fg), it
// turns echo off again. Where this OS has no glue, a line is read with
// golang.org/x/term instead, and a text is errNoLineMode.
func readNoEcho(c *cli.Context, tty *os.File, oneLine bool, ready func()) (readResult, error) {
	// The handlers come first: from the moment echo is off, a Ctrl-C
	// must put it back.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	cont := make(chan os.Signal, 1)
	if cs := contSignals(); len(cs) > 0 {
		signal.Notify(cont, cs...)
		defer signal.Stop(cont)
	}
	restore, err := echoOff(int(tty.Fd()))
	if errors.Is(err, errNoLineMode) && oneLine {
		signal.Stop(sigs)
		ready()
		b, err := term.ReadPassword(int(tty.Fd()))
		return readResult{b: b, err: err}, nil
	}
	if errors.Is(err, errNoLineMode) {
		return readResult{}, err
	}
	if err != nil {
		return readResult{}, fmt.Errorf("turn off echo: %w", err)
	}
	ready()
	done := make(chan readResult, 1)
	go func() { done <- readTTY(tty, oneLine) }()
	for {
		select {
		case r := <-done:
			restore()
			return r, nil
		case sig := <-sigs:
			restore()
			fmt.Fprintln(c.App.ErrWriter)
			reraise(sig)
			return readResult{}, fail(exitError, "interrupted; nothing was done")
		case <-cont:
			// Resumed after a stop: the shell may have turned echo back
			// on; turn it off again (restore keeps the first settings).
			if _, err := echoOff(int(tty.Fd())); err != nil {
				restore()
				return readResult{}, fmt.Errorf("turn off echo again after a stop: %w", err)
			}
		}
	}
}

type readResult struct {
	b   []byte
	err error
}

// readTTY reads tty until end of input, or with oneLine until the end of
// the first line; at most maxValue+1 bytes. In line mode each read returns
// at most one line.
func readTTY(tty *os.File, oneLine bool) readResult {
	var b []byte
	chunk := make([]byte, 4096)
	defer clear(chunk)
	for len(b) <= maxValue {
		n, err := tty.Read(chunk)
		b = append(b, chunk[:n]...)
		if errors.Is(err, io.EOF) || oneLine && n > 0 && chunk[n-1] == '\n' {
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
