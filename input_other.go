//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package main

import "os"

// eofKeys is what would end a value typed at the terminal.
const eofKeys = "Ctrl-D"

// echoOff has no glue here: put then reads one hidden line.
func echoOff(int) (func(), error) { return nil, errNoLineMode }

// contSignals: nothing to watch where echoOff has no glue.
func contSignals() []os.Signal { return nil }
