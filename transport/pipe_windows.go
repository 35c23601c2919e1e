package transport

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/windows"
)

// PipeListener is the daemon's named pipe (spec §2). It always keeps one
// instance of the pipe waiting for a client, so the name never lapses while
// the daemon runs and no other process can create a first instance of it.
type PipeListener struct {
	name  string
	sa    *windows.SecurityAttributes
	stop  windows.Handle // event: Close wakes a waiting Accept
	mu    sync.Mutex     // one Accept at a time
	next  windows.Handle // the waiting instance
	once  sync.Once
	done  chan struct{}
	errCl error
}

var _ net.Listener = (*PipeListener)(nil)

// ListenPipe creates the first instance of the pipe name with a DACL that
// admits only the current user, FILE_FLAG_FIRST_PIPE_INSTANCE (so a process
// that created the name first makes this fail instead of sharing it) and
// PIPE_REJECT_REMOTE_CLIENTS. A name that exists is ErrPipeTaken.
func ListenPipe(name string) (*PipeListener, error) {
	if err := checkPipeName(name); err != nil {
		return nil, err
	}
	sa, err := currentUserOnly()
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", name, err)
	}
	stop, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", name, err)
	}
	l := &PipeListener{name: name, sa: sa, stop: stop, done: make(chan struct{})}
	l.next, err = l.instance(true)
	if err != nil {
		windows.CloseHandle(stop)
		return nil, fmt.Errorf("listen %s: %w", name, err)
	}
	return l, nil
}

// instance creates one overlapped, byte-mode instance of the pipe.
func (l *PipeListener) instance(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(l.name)
	if err != nil {
		return 0, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	mode := uint32(windows.PIPE_TYPE_BYTE | windows.PIPE_READMODE_BYTE | windows.PIPE_WAIT | windows.PIPE_REJECT_REMOTE_CLIENTS)
	h, err := windows.CreateNamedPipe(name, flags, mode, windows.PIPE_UNLIMITED_INSTANCES, 64<<10, 64<<10, 0, l.sa)
	if first && (errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY)) {
		return 0, ErrPipeTaken
	}
	return h, err
}

// Accept waits for a client on the waiting instance, puts a new instance in
// its place, and returns the connection. Its ConnectedAt is taken as soon
// as the connection is seen, for the caller-identity checks.
func (l *PipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed() {
		return nil, net.ErrClosed
	}
	h := l.next
	if err := l.connect(h); err != nil {
		return nil, err
	}
	var ft windows.Filetime
	windows.GetSystemTimePreciseAsFileTime(&ft)
	next, err := l.instance(false)
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("accept %s: new instance: %w", l.name, err)
	}
	l.next = next
	return newPipeConn(h, l.name, time.Unix(0, ft.Nanoseconds())), nil
}

// connect runs ConnectNamedPipe on h until a client arrives or Close.
func (l *PipeListener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return fmt.Errorf("accept %s: %w", l.name, err)
	}
	defer windows.CloseHandle(ev)
	for {
		err := l.connectOnce(h, ev)
		if !errors.Is(err, windows.ERROR_NO_DATA) && !errors.Is(err, windows.ERROR_BROKEN_PIPE) {
			return err
		}
		// A client connected and closed before we saw it; nothing to
		// serve. Reset the instance and wait for the next one (returning
		// the error would stop the daemon's accept loop).
		if err := windows.DisconnectNamedPipe(h); err != nil {
			return fmt.Errorf("accept %s: %w", l.name, err)
		}
	}
}

// connectOnce is one ConnectNamedPipe on h.
func (l *PipeListener) connectOnce(h, ev windows.Handle) error {
	if err := windows.ResetEvent(ev); err != nil {
		return fmt.Errorf("accept %s: %w", l.name, err)
	}
	ov := windows.Overlapped{HEvent: ev}
	err := windows.ConnectNamedPipe(h, &ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return nil
	case errors.Is(err, windows.ERROR_NO_DATA):
		return err
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return fmt.Errorf("accept %s: %w", l.name, err)
	}
	which, err := windows.WaitForMultipleObjects([]windows.Handle{ev, l.stop}, false, windows.INFINITE)
	if err != nil || which != windows.WAIT_OBJECT_0 {
		windows.CancelIoEx(h, &ov)
		var n uint32
		windows.GetOverlappedResult(h, &ov, &n, true)
		return net.ErrClosed
	}
	var n uint32
	if err := windows.GetOverlappedResult(h, &ov, &n, false); err != nil {
		if errors.Is(err, windows.ERROR_NO_DATA) || errors.Is(err, windows.ERROR_BROKEN_PIPE) {
			return err
		}
		return fmt.Errorf("accept %s: %w", l.name, err)
	}
	return nil
}

func (l *PipeListener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Close stops accepting and closes the waiting instance; connections
// already returned stay open.
func (l *PipeListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		windows.SetEvent(l.stop)
		l.mu.Lock() // a waiting Accept has returned
		defer l.mu.Unlock()
		l.errCl = windows.CloseHandle(l.next)
		windows.CloseHandle(l.stop)
	})
	return l.errCl
}

// Addr is the pipe name.
func (l *PipeListener) Addr() net.Addr { return pipeAddr(l.name) }

// Path is the pipe name.
func (l *PipeListener) Path() string { return l.name }
