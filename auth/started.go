package auth

import "time"

// startedBy reports whether a process created at created can be the one
// that connected at connected. A process created later got the pid of the
// connector after the connector exited (Windows reuses pids quickly), so it
// is not the peer. Both times must come from the same clock: the system
// time, precise for the connection, and at most as late as true for the
// process (Windows records creation times from the coarser tick clock).
func startedBy(created, connected time.Time) bool { return !created.After(connected) }
