//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// echoOffTermios clears the echo flags and sets canonical mode and
// signals, with the OS's get and set requests.
func echoOffTermios(fd int, get, set uint) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, get)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, set, &t); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, set, old) }, nil
}

// contSignals are the signals after which the terminal may have been
// reset by someone else: a stopped put (Ctrl-Z, or reading from the
// background) resumes with whatever settings the shell left.
func contSignals() []os.Signal { return []os.Signal{syscall.SIGCONT} }
