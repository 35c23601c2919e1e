//go:build linux

// Command attacker is the same-user adversary of the security tests. It
// prints "ok: ..." and exits 0 when its probe succeeds, else prints the
// error and exits 1.
//
//	attacker read PATH      read a file (/proc/PID/environ)
//	attacker open PATH      open a file for reading (/proc/PID/mem)
//	attacker ptrace PID     PTRACE_SEIZE the process, read its memory
//	                        through /proc/PID/mem and process_vm_readv, detach
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Errorf("usage: attacker read|open|ptrace ARG"))
	}
	var err error
	switch os.Args[1] {
	case "read":
		_, err = os.ReadFile(os.Args[2])
	case "open":
		var f *os.File
		if f, err = os.Open(os.Args[2]); err == nil {
			f.Close()
		}
	case "ptrace":
		err = ptrace(os.Args[2])
	default:
		err = fmt.Errorf("unknown probe %q", os.Args[1])
	}
	fail(err)
	fmt.Println("ok:", os.Args[1], os.Args[2])
}

func fail(err error) {
	if err != nil {
		fmt.Println("failed:", err)
		os.Exit(1)
	}
}

func ptrace(arg string) error {
	pid, err := strconv.Atoi(arg)
	if err != nil {
		return err
	}
	if err := unix.PtraceSeize(pid); err != nil {
		return fmt.Errorf("PTRACE_SEIZE: %w", err)
	}
	defer unix.PtraceDetach(pid)
	addr, err := firstReadable(pid)
	if err != nil {
		return err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return err
	}
	defer mem.Close()
	buf := make([]byte, 64)
	if _, err := mem.ReadAt(buf, int64(addr)); err != nil {
		return fmt.Errorf("read /proc/%d/mem: %w", pid, err)
	}
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: addr, Len: len(buf)}}
	if _, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil {
		return fmt.Errorf("process_vm_readv: %w", err)
	}
	return nil
}

// firstReadable is the start of the first readable mapping of pid.
func firstReadable(pid int) (uintptr, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "r") {
			continue
		}
		start, _, _ := strings.Cut(fields[0], "-")
		a, err := strconv.ParseUint(start, 16, 64)
		return uintptr(a), err
	}
	return 0, fmt.Errorf("no readable mapping in /proc/%d/maps", pid)
}
