package broker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	c      chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.UnixAddr{Name: "test", Net: "unix"} }

// TestServeClosesConnectionsItCannotServe: a listener whose connections
// have no CloseWrite (not a Unix socket, not a pipe) gets each one closed
// and logged, and Serve keeps accepting until its context ends.
func TestServeClosesConnectionsItCannotServe(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	srv := New(Options{Logger: slog.New(slog.NewTextHandler(syncWriter{&mu, &logs}, nil))})
	ours, theirs := net.Pipe() // net.Pipe's conns have no CloseWrite
	l := &oneConnListener{c: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.c <- ours
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()

	theirs.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := theirs.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %d bytes, %v; want EOF (the connection closed unserved)", n, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v after an unservable connection; want it to keep accepting", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "cannot be served") {
		t.Errorf("log %q does not say the connection could not be served", logs.String())
	}
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}
