// Command shieldattack is the same-user attacker of the system-mode shield
// test: given the pid of a keychain-auth CLI that holds a value, it tries
// each way a program of the same uid has to get at that value, and prints
// one word per way: ok (the attack worked) or the errno that stopped it.
// For /proc/PID/mem it prints "found" when the marker was read from the
// CLI's memory. Linux only.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: shieldattack PID MARKER")
		os.Exit(2)
	}
	pid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	marker := []byte(os.Args[2])
	fmt.Printf("ptrace=%s mem=%s getfd=%s prlimit=%s\n", tryPtrace(pid), tryMem(pid, marker), tryGetfd(pid), tryPrlimit(pid))
}

func word(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return "error"
}

func tryPtrace(pid int) string {
	err := unix.PtraceSeize(pid)
	if err == nil {
		_ = unix.PtraceDetach(pid)
	}
	return word(err)
}

// tryMem reads every readable mapping through /proc/PID/mem and looks for
// the marker.
func tryMem(pid int, marker []byte) string {
	mem, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		return word(err)
	}
	defer mem.Close()
	maps, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return word(err)
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[1], "r") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end-start > 1<<30 {
			continue
		}
		buf := make([]byte, end-start)
		n, _ := mem.ReadAt(buf, int64(start))
		if bytes.Contains(buf[:n], marker) {
			return "found"
		}
	}
	return "notfound"
}

func tryGetfd(pid int) string {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return word(err)
	}
	defer unix.Close(pfd)
	fd, err := unix.PidfdGetfd(pfd, 1, 0)
	if err == nil {
		unix.Close(fd)
	}
	return word(err)
}

func tryPrlimit(pid int) string {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	return word(unix.Prlimit(pid, unix.RLIMIT_CORE, &inf, nil))
}
