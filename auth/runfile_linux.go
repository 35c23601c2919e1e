package auth

import (
	"errors"

	"golang.org/x/sys/unix"
)

// RunFile identifies the file the connecting process holds open as its
// descriptor fd. The daemon opens /proc/PID/fd/N (a new open of the same
// file; nothing crosses the socket), checks it like a running image
// (trusted filesystem, regular file, not deleted, its path names the same
// inode) and hashes it with the cache, then proves with the pidfd that PID
// was still the connector, so the descriptor was its own. It does not
// decide whether the connector may ask: the broker allows it only for
// keychain-auth's own CLI (Identity.Courier). Errors are *Error.
func (p *Peer) RunFile(fd int) (*RunFile, error) {
	t := p.target()
	if err := t.alive(); err != nil {
		return nil, err
	}
	name := "fd/" + itoa(fd)
	f, err := unix.Open(procPath(t.pid, name), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, p.v.unavailable(t, err)
	}
	defer unix.Close(f)
	link, err := readlinkProc(t.pid, name)
	if err != nil {
		return nil, p.v.unavailable(t, err)
	}
	if err := t.alive(); err != nil {
		return nil, err
	}
	img, err := p.v.imageOf(f, link, ReasonImageDeleted)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(f, &st); err != nil {
		return nil, refuse(ReasonIdentityUnavailable, "fstat run program: %v", err)
	}
	rf := &RunFile{Image: img, UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777}
	rf.HasACL, err = hasAccessACL(f)
	if err != nil {
		return nil, refuse(ReasonIdentityUnavailable, "read the ACL of %s: %v", img.Path, err)
	}
	var head [2]byte
	if n, _ := unix.Pread(f, head[:], 0); n == 2 && string(head[:]) == "#!" {
		rf.Script = true
	}
	return rf, nil
}

// hasAccessACL reports whether the file carries a POSIX access ACL. A
// filesystem without ACL support has none.
func hasAccessACL(fd int) (bool, error) {
	n, err := unix.Fgetxattr(fd, "system.posix_acl_access", nil)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP):
		return false, nil
	case err != nil:
		return false, err
	}
	return n > 0, nil
}
