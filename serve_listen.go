package main

import "net"

// The per-OS listening of a user-mode daemon lives in serve_listen_unix.go
// (a socket file) and serve_listen_windows.go (a named pipe), behind
// listenUser.

// userEndpoint is the user-mode daemon's claimed endpoint: serving is what
// the broker accepts from, Close gives the endpoint up.
type userEndpoint interface {
	serving() net.Listener
	Close() error
}
