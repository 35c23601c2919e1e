//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package main

// eofKeys is what would end a value typed at the terminal.
const eofKeys = "Ctrl-D"

// echoOff has no glue here: put then reads one hidden line.
func echoOff(int) (func(), error) { return nil, errNoLineMode }
