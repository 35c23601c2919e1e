package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
)

// Conditions callers branch on.
var (
	// ErrDaemonRunning: Listen found a live daemon on the endpoint (or
	// another daemon holds the endpoint's lock).
	ErrDaemonRunning = errors.New("a daemon is already running on this endpoint")
	// ErrDaemonNotRunning: Dial found nothing listening on the endpoint.
	ErrDaemonNotRunning = errors.New("daemon is not running")
	// ErrUntrustedEndpoint: DialSystem found an endpoint that someone other
	// than root or the service user could have made; nothing was sent.
	ErrUntrustedEndpoint = errors.New("endpoint is not the system daemon's")
)

// Listener is the daemon's socket. It holds an exclusive lock on a lock file
// beside the socket for its whole life, so a second daemon cannot take over
// the endpoint, and removes the socket when closed.
type Listener struct {
	ul   *net.UnixListener
	path string
	lock *os.File

	once     sync.Once
	closeErr error
}

// Accept waits for the next connection.
func (l *Listener) Accept() (*net.UnixConn, error) { return l.ul.AcceptUnix() }

// Unix is the underlying listener, for socket options (auth.PrepareListener)
// and deadlines.
func (l *Listener) Unix() *net.UnixListener { return l.ul }

// Addr is the listener's address.
func (l *Listener) Addr() net.Addr { return l.ul.Addr() }

// Path is the socket's file path.
func (l *Listener) Path() string { return l.path }

// Close stops listening, removes the socket file and releases the lock, in
// that order, so a daemon that starts next finds a clean endpoint. The lock
// file itself stays: deleting it would let two later daemons lock two
// different files. Close is safe to call more than once.
func (l *Listener) Close() error {
	l.once.Do(func() {
		err := l.ul.Close()
		if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = rmErr
		}
		if lkErr := l.lock.Close(); lkErr != nil && err == nil {
			err = lkErr
		}
		if err != nil {
			l.closeErr = fmt.Errorf("close listener: %w", err)
		}
	})
	return l.closeErr
}
