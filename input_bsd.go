//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import "golang.org/x/sys/unix"

// eofKeys is what ends a value typed at the terminal.
const eofKeys = "Ctrl-D"

// echoOff: see input_linux.go. Unrun: no BSD or macOS machine here.
func echoOff(fd int) (func(), error) {
	return echoOffTermios(fd, unix.TIOCGETA, unix.TIOCSETA)
}
