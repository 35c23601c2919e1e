package transport

import (
	"errors"
	"fmt"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// pipeBusyWait bounds how long Dial retries a pipe whose instances are all
// busy (the daemon creates the next one right after each connect).
const pipeBusyWait = 5 * time.Second

// Dial connects to the daemon's named pipe. The handle is not inheritable
// (no program the client starts gets the connection) and is opened with
// SECURITY_IDENTIFICATION, so the server cannot impersonate the client.
// Before anything is sent, the process serving the pipe must run as our own
// user: a pipe created by another user must not receive our requests and
// secrets. A missing pipe is ErrDaemonNotRunning.
func Dial(name string) (net.Conn, error) {
	me, err := currentUser()
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	return dialPipe(name, me)
}

// dialPipe connects and requires the server process to run as want.
func dialPipe(name string, want *windows.SID) (net.Conn, error) {
	if err := checkPipeName(name); err != nil {
		return nil, err
	}
	h, err := openPipe(name)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	if err := checkServerUser(h, want); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	var ft windows.Filetime
	windows.GetSystemTimePreciseAsFileTime(&ft)
	return newPipeConn(h, name, time.Unix(0, ft.Nanoseconds())), nil
}

// openPipe opens the client end, retrying while every instance is busy.
func openPipe(name string) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(pipeBusyWait)
	for {
		h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		switch {
		case err == nil:
			return h, nil
		case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
			return 0, ErrDaemonNotRunning
		case errors.Is(err, windows.ERROR_PIPE_BUSY) && time.Now().Before(deadline):
			waitNamedPipe(p, 50)
		case errors.Is(err, windows.ERROR_ACCESS_DENIED):
			// Pipe names are machine-wide: most likely another user's
			// daemon (its DACL admits only that user) holds the name.
			return 0, fmt.Errorf("%w: the pipe is not open to this user; another user's daemon may hold the name (give yours a pipe of its own with %s)", err, EnvSocket)
		default:
			return 0, err
		}
	}
}

var procWaitNamedPipe = windows.NewLazySystemDLL("kernel32.dll").NewProc("WaitNamedPipeW")

// waitNamedPipe waits up to ms milliseconds for an instance of the pipe to
// be free (x/sys/windows has no WaitNamedPipe). Its result does not matter:
// the caller tries again either way.
func waitNamedPipe(name *uint16, ms uint32) {
	procWaitNamedPipe.Call(uintptr(unsafe.Pointer(name)), uintptr(ms))
}

// checkServerUser asks which process serves the pipe and refuses one that
// does not run as want.
func checkServerUser(h windows.Handle, want *windows.SID) error {
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return fmt.Errorf("pipe server process: %w", err)
	}
	got, err := processUser(pid)
	if err != nil {
		return fmt.Errorf("cannot verify the daemon's user: %w", err)
	}
	if !got.Equals(want) {
		return fmt.Errorf("refusing daemon process %d running as %s, not as %s", pid, got, want)
	}
	return nil
}
