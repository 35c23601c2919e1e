package main

import (
	"errors"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runAsProgramNote is added to a refusal when PROGRAM could not be offered
// to the daemon (its file could not be opened for reading).
const runAsProgramNote = "PROGRAM could not be opened for reading, so it cannot be authorized on its own account; run it from a registered script"

// openProgram resolves name (resolveProgram) and opens the file: the
// descriptor (close-on-exec) is what the daemon identifies through /proc
// and what execProgram executes, so the file the daemon checked is the
// file that runs. A file that cannot be read (an execute-only binary) is
// kept by path only: it can then be run only as the caller.
func openProgram(name string) (*programFile, error) {
	abs, err := resolveProgram(name, true)
	if err != nil {
		return nil, err
	}
	p := &programFile{path: abs, fd: -1}
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EACCES) {
		return p, nil
	}
	if err != nil {
		return nil, fail(exitError, "open %s: %v", abs, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fail(exitError, "%s is not a regular file", abs)
	}
	p.fd = fd
	var head [2]byte
	if n, _ := unix.Pread(fd, head[:], 0); n == 2 && string(head[:]) == "#!" {
		p.script = true
	}
	return p, nil
}

func (p *programFile) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
	}
}

// execProgram replaces this process with PROGRAM. An executable is run
// through its descriptor (execveat with AT_EMPTY_PATH): the inode the
// daemon hashed, whatever happened to the path since. A script cannot be
// (the kernel would hand /dev/fd/N to the interpreter, and the descriptor
// is close-on-exec); the daemon allows a script only as the caller's run,
// which does not depend on PROGRAM, so it is run by its resolved path.
func execProgram(p *programFile, argv, env []string) error {
	restoreFileLimit()
	if p.fd < 0 || p.script {
		err := syscall.Exec(p.path, argv, env)
		return fail(exitError, "start %s: %v", p.path, err)
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return fail(exitError, "start %s: an argument holds a NUL byte", p.path)
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return fail(exitError, "start %s: the environment holds a NUL byte", p.path)
	}
	empty := []byte{0}
	runtime.LockOSThread()
	_, _, errno := unix.RawSyscall6(unix.SYS_EXECVEAT, uintptr(p.fd), uintptr(unsafe.Pointer(&empty[0])),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	runtime.UnlockOSThread()
	return fail(exitError, "start %s: %v", p.path, errno)
}

// restoreFileLimit puts back the soft RLIMIT_NOFILE the process started
// with. The Go runtime raises it at start and lowers it again only inside
// syscall.Exec (so that a program started from Go keeps the limit its
// parent gave): calling syscall.Exec with an empty path does exactly that
// and then fails (ENOENT) without running anything, which leaves the limit
// restored for the execveat that follows. integration TestRunKeepsFileLimit
// checks the effect.
func restoreFileLimit() {
	_ = syscall.Exec("", []string{""}, nil)
}
