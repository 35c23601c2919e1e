package main

import "golang.org/x/sys/unix"

// eofKeys is what ends a value typed at the terminal.
const eofKeys = "Ctrl-D"

// echoOff turns off echo on the terminal fd and keeps its line mode, so
// that Ctrl-D on an empty line is end of input; the returned function puts
// the old settings back.
func echoOff(fd int) (func(), error) {
	return echoOffTermios(fd, unix.TCGETS, unix.TCSETS)
}
