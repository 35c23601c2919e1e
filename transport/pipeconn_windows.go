package transport

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeConn is one end of a connected pipe. Its *os.File is registered with
// the runtime's I/O completion port (the handle is overlapped), which gives
// it deadlines.
type pipeConn struct {
	*os.File
	name      string
	connected time.Time
}

func newPipeConn(h windows.Handle, name string, at time.Time) *pipeConn {
	return &pipeConn{File: os.NewFile(uintptr(h), name), name: name, connected: at}
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.name) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.name) }

// ConnectedAt is when the daemon saw the client connect (auth refuses a
// client process created later: its pid was reused).
func (c *pipeConn) ConnectedAt() time.Time { return c.connected }

// CloseWrite has no pipe equivalent and does nothing: what was written
// stays readable by the client after Close (only DisconnectNamedPipe would
// drop it). It is not FlushFileBuffers, which waits for the client to read.
func (c *pipeConn) CloseWrite() error { return nil }
