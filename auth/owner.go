package auth

import "net"

// Owner is who the kernel says holds the other end of a connection right
// after accept: the connecting process's pid, uid and executable path.
// It serves load shedding only (grouping connections by user and program),
// never a decision: it pins nothing (the pid may be reused, the path may
// name another file by the time anyone looks) and hashes nothing.
type Owner struct {
	PID int
	UID uint32
	// Exe is the path /proc/PID/exe reported, "" when it could not be read.
	Exe string
}

// ConnOwner returns the Owner of c's other end, or an error where the
// platform does not tell (the caller then groups the connection as
// unknown).
func ConnOwner(c *net.UnixConn) (Owner, error) { return connOwner(c) }
