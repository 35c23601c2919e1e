//go:build linux

// Command runswap is the attacker of the `run` swap-race test. It runs as
// the same user as the victim, owns the program file that user registered
// and granted --run, and tries to get different bytes executed than the
// daemon hashed: it starts `keychain-auth run` on the file, waits (inotify)
// until the daemon has read the file through the CLI's descriptor and
// closed it, and then rewrites the file in place with another program.
//
// Usage: runswap PROGRAM SWAP-CONTENT ATTEMPTS -- COMMAND ARGS...
//
// It restores PROGRAM's original bytes before each attempt and prints the
// output of every attempt. It exits 0 as soon as an attempt's output
// contains "SWAPPED:" (the swapped program ran with the values), 1 when
// none did.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 6 || os.Args[4] != "--" {
		fmt.Fprintln(os.Stderr, "usage: runswap PROGRAM SWAP-CONTENT ATTEMPTS -- COMMAND ARGS...")
		os.Exit(2)
	}
	prog, attempts := os.Args[1], mustAtoi(os.Args[3])
	orig, err := os.ReadFile(prog)
	check(err)
	swap, err := os.ReadFile(os.Args[2])
	check(err)
	for i := 0; i < attempts; i++ {
		check(restore(prog, orig))
		out := attempt(prog, swap, os.Args[5:])
		fmt.Printf("attempt %d: %s\n", i, bytes.TrimSpace(out))
		if bytes.Contains(out, []byte("SWAPPED:")) {
			os.Exit(0)
		}
	}
	os.Exit(1)
}

// attempt runs the command and swaps the file when the daemon has closed it.
func attempt(prog string, swap []byte, argv []string) []byte {
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	check(err)
	defer unix.Close(in)
	_, err = unix.InotifyAddWatch(in, prog, unix.IN_CLOSE_NOWRITE)
	check(err)
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	check(cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if waitClose(in) {
		if err := rewrite(prog, swap); err != nil {
			fmt.Fprintf(&out, " (swap failed: %v)", err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	fmt.Fprintf(&out, " [exit %d]", cmd.ProcessState.ExitCode())
	return out.Bytes()
}

// waitClose waits up to 5s for the first close of the file without
// writing: the daemon's, after it hashed the file (the CLI keeps its own
// descriptor open until the exec).
func waitClose(in int) bool {
	fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 5000)
	if err != nil || n == 0 {
		return false
	}
	buf := make([]byte, 4096)
	_, err = unix.Read(in, buf)
	return err == nil
}

// rewrite replaces the file's bytes in place (same inode).
func rewrite(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// restore puts the original bytes back, waiting for a program that still
// runs from the file (ETXTBSY) to end.
func restore(path string, b []byte) error {
	var err error
	for i := 0; i < 100; i++ {
		if err = rewrite(path, b); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	check(err)
	return n
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "runswap:", err)
		os.Exit(2)
	}
}
