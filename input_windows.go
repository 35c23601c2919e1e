package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// eofKeys is what ends a value typed at the console: Go reads Ctrl-Z at
// the start of a line as end of input.
const eofKeys = "Ctrl-Z, then Enter"

// echoOff turns off the console's echo and keeps line input; the returned
// function puts the old mode back. Unrun on a real Windows console.
func echoOff(fd int) (func(), error) {
	h := windows.Handle(fd)
	var old uint32
	if err := windows.GetConsoleMode(h, &old); err != nil {
		return nil, err
	}
	mode := old&^windows.ENABLE_ECHO_INPUT | windows.ENABLE_LINE_INPUT | windows.ENABLE_PROCESSED_INPUT
	if err := windows.SetConsoleMode(h, mode); err != nil {
		return nil, err
	}
	return func() { _ = windows.SetConsoleMode(h, old) }, nil
}

// contSignals: a console has no job control.
func contSignals() []os.Signal { return nil }
