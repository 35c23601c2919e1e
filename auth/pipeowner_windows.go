package auth

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/windows"
)

// PipeOwner is ConnOwner for a named pipe connection (transport.ListenPipe):
// the client's pid from the pipe and its image path. UID is 0: a pipe's
// client is named by a SID, and a user-mode daemon serves only its own
// user (the verifier checks the SID). Like every Owner it serves load
// shedding only, never a decision.
func PipeOwner(c net.Conn) (Owner, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return Owner{}, fmt.Errorf("connection owner: %T has no handle", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return Owner{}, fmt.Errorf("connection owner: %w", err)
	}
	var pid uint32
	var perr error
	if err := raw.Control(func(h uintptr) { perr = windows.GetNamedPipeClientProcessId(windows.Handle(h), &pid) }); err != nil {
		return Owner{}, fmt.Errorf("connection owner: %w", err)
	}
	if perr != nil {
		return Owner{}, fmt.Errorf("connection owner: %w", perr)
	}
	o := Owner{PID: int(pid)}
	if h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid); err == nil {
		o.Exe, _ = imagePath(h)
		windows.CloseHandle(h)
	}
	return o, nil
}
