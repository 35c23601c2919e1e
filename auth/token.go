package auth

import (
	"errors"
	"io"
	"path/filepath"
	"time"
)

// This file is the macOS verifier's decision logic. It is portable on
// purpose: it is compiled and tested on Linux through a fake of the darwin
// glue (auth/token_test.go), because no Mac is at hand where it was
// written. The glue itself (getsockopt, proc_info, sysctl, open/fstat) is
// in accept_darwin.go and sys_darwin.go and holds no decision.
//
// The model (docs/security.md): at Accept, the peer's uid from
// LOCAL_PEERCRED must be ours, and LOCAL_PEERTOKEN names the connecting
// process by pid and pid version (the kernel gives a process a new pid
// version at every exec). After every chunk that brings data and before
// and after every identification, LOCAL_PEERTOKEN must name that same
// process again: it reports the socket's last user, so a request written
// by another process holding the descriptor, by the connector after an
// exec, or by a process that got the connector's pid after it exited, is
// refused. The image is found by the kernel's path of that process,
// opened, checked and hashed (cached by file identity, as on Linux).
// Every step that fails, or answers something unexpected, refuses with a
// specific reason; nothing is accepted because a call was unavailable.

// auditToken is the part of a macOS audit_token_t the daemon uses. The
// kernel's token is eight 32-bit words: auid, euid, egid, ruid, rgid, pid,
// asid, pid version (audit_token_to_pid and audit_token_to_pidversion read
// words 5 and 7).
type auditToken struct {
	EUID       uint32
	PID        int
	PIDVersion uint32
}

// tokenFromWords decodes an audit_token_t read as eight words.
func tokenFromWords(w [8]uint32) auditToken {
	return auditToken{EUID: w[1], PID: int(int32(w[5])), PIDVersion: w[7]}
}

// errProcessGone is what the glue returns when the kernel says the process
// (or the socket's peer) no longer exists: ESRCH, ENOTCONN.
var errProcessGone = errors.New("process or peer gone")

// macConn is the darwin glue for one accepted connection.
type macConn interface {
	// peerUID is the peer's effective uid from LOCAL_PEERCRED.
	peerUID() (uint32, error)
	// peerToken is LOCAL_PEERTOKEN: the audit token of the process that
	// last used the other end of the socket.
	peerToken() (auditToken, error)
}

// macProc is what sysctl kern.proc.pid says about a process.
type macProc struct {
	// Started is when the process was created (p_starttime).
	Started time.Time
	// Traced is P_TRACED: a debugger is attached (macOS does not say which).
	Traced bool
}

// macFile is what fstat and fstatfs say about an opened image.
type macFile struct {
	Key     fileKey
	Regular bool
	Nlink   uint64
	// Changed is the later of the inode's change time and birth time.
	Changed time.Time
	// Local is MNT_LOCAL on the file's mount; FSType its f_fstypename.
	Local  bool
	FSType string
}

// macImage is an opened image file.
type macImage interface {
	io.Reader
	// facts is fstat + fstatfs of the opened descriptor.
	facts() (macFile, error)
	Close() error
}

// macProcs is the darwin glue for processes and files.
type macProcs interface {
	// imagePath is the kernel's path of the process's executable
	// (proc_pidpath: the text vnode's path, not argv).
	imagePath(pid int) (string, error)
	// procInfo is sysctl kern.proc.pid.
	procInfo(pid int) (macProc, error)
	// openImage opens path read-only, refusing a symlink in any component
	// (O_NOFOLLOW_ANY).
	openImage(path string) (macImage, error)
}

// tokenPeer is the macOS state of a connection: the connecting process as
// named by its audit token at Accept.
type tokenPeer struct {
	conn     macConn
	uid      uint32
	accepted auditToken
	refused  *Error // sticky: a refused connection stays refused
}

// acceptToken checks the peer of conn against the daemon's euid and takes
// the audit token of the connecting process.
func (v *Verifier) acceptToken(conn macConn, euid uint32) (*tokenPeer, error) {
	uid, err := conn.peerUID()
	if err != nil {
		return nil, tokenCallFailed("LOCAL_PEERCRED", err)
	}
	if uid != euid && !v.opts.MultiUser && !v.opts.weak.NoUIDCheck {
		return nil, refuse(ReasonUIDMismatch, "peer uid %d, daemon euid %d", uid, euid)
	}
	tok, err := conn.peerToken()
	if err != nil {
		return nil, tokenCallFailed("LOCAL_PEERTOKEN", err)
	}
	if tok.PID <= 0 {
		return nil, refuse(ReasonIdentityUnavailable, "audit token names pid %d", tok.PID)
	}
	if tok.EUID != uid {
		// Between the two calls the peer changed its euid or handed the
		// socket to a process of another user: neither is the connector
		// LOCAL_PEERCRED described.
		return nil, refuse(ReasonSenderNotConnector, "audit token euid %d, LOCAL_PEERCRED uid %d", tok.EUID, uid)
	}
	return &tokenPeer{conn: conn, uid: uid, accepted: tok}, nil
}

// sameProcess refuses unless the socket's last user is still the process
// that connected, running the program it ran then. A refusal sticks.
func (t *tokenPeer) sameProcess(v *Verifier) *Error {
	if t.refused != nil {
		return t.refused
	}
	if v.opts.weak.NoSenderCheck {
		return nil
	}
	now, err := t.conn.peerToken()
	var e *Error
	switch {
	case err != nil:
		e = tokenCallFailed("LOCAL_PEERTOKEN", err)
	case now.PID != t.accepted.PID:
		e = refuse(ReasonSenderNotConnector, "socket last used by pid %d, connected by pid %d", now.PID, t.accepted.PID)
	case now.PIDVersion != t.accepted.PIDVersion && !v.opts.weak.NoExecCheck:
		e = refuse(ReasonExecAfterConnect, "pid %d runs another program than when it connected (pid version %d, was %d)", now.PID, now.PIDVersion, t.accepted.PIDVersion)
	case now.EUID != t.accepted.EUID:
		e = refuse(ReasonUIDMismatch, "pid %d changed its euid from %d to %d", now.PID, t.accepted.EUID, now.EUID)
	}
	if e != nil {
		t.refused = e
		return e
	}
	return nil
}

// tokenCallFailed maps a failed glue call on the connection: a vanished
// peer is peer_exited, anything else identity_unavailable.
func tokenCallFailed(call string, err error) *Error {
	if errors.Is(err, errProcessGone) {
		return refuse(ReasonPeerExited, "%s: %v", call, err)
	}
	return refuse(ReasonIdentityUnavailable, "%s: %v", call, err)
}

// identifyToken identifies the process behind t now. The token is checked
// before the process is looked up by pid and again after its image was
// hashed, so that every lookup by pid was about the connector running the
// program it connected with.
func (v *Verifier) identifyToken(t *tokenPeer, procs macProcs) (*Identity, error) {
	if e := t.sameProcess(v); e != nil {
		return nil, e
	}
	pid := t.accepted.PID
	info, err := procs.procInfo(pid)
	if err != nil {
		return nil, v.procCallFailed(t, "kern.proc.pid", pid, err)
	}
	path, err := procs.imagePath(pid)
	if err != nil {
		return nil, v.procCallFailed(t, "proc_pidpath", pid, err)
	}
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return nil, refuse(ReasonIdentityUnavailable, "pid %d: kernel path %q is not a clean absolute path", pid, path)
	}
	exe, err := v.macImageOf(procs, path, info.Started)
	if err != nil {
		return nil, err
	}
	// The path must still be the process's: a rename of the image (or of
	// a directory above it) while it was hashed shows here.
	again, err := procs.imagePath(pid)
	if err != nil {
		return nil, v.procCallFailed(t, "proc_pidpath", pid, err)
	}
	if again != path && !v.opts.weak.NoImageChecks {
		return nil, refuse(ReasonImagePathMismatch, "pid %d: image moved from %s to %s while it was hashed", pid, path, again)
	}
	if e := t.sameProcess(v); e != nil {
		return nil, e
	}
	id := &Identity{PID: pid, UID: t.uid, Exe: exe, CommandLine: []string{exe.Path}}
	if info.Traced {
		id.TracerPID = -1 // traced; macOS does not say by whom
	}
	v.macScriptRule(id)
	return id, nil
}

// procCallFailed maps a failed lookup of the connector by pid: when the
// token no longer names the connector, that is the reason; a vanished
// process is peer_exited; else identity_unavailable.
func (v *Verifier) procCallFailed(t *tokenPeer, call string, pid int, err error) *Error {
	if e := t.sameProcess(v); e != nil {
		return e
	}
	if errors.Is(err, errProcessGone) {
		return refuse(ReasonPeerExited, "%s %d: %v", call, pid, err)
	}
	return refuse(ReasonIdentityUnavailable, "%s %d: %v", call, pid, err)
}

// untrustedFSTypes are f_fstypename values of filesystems that can serve
// the daemon other bytes than the kernel mapped for exec (FUSE in its
// macOS forms) even when they call themselves local.
var untrustedFSTypes = map[string]bool{
	"macfuse": true, "osxfuse": true, "osxfusefs": true, "fusefs": true,
	"fuse-t": true, "nfs": true, "smbfs": true, "afpfs": true, "webdav": true,
	"ftp": true, "cifs": true,
}

// macImageOf opens the kernel's path of the image and hashes it. The file
// must be a regular, linked file on a local, trusted filesystem that has not
// changed since the process started (an image replaced at its path after
// exec is refused, as on Windows).
func (v *Verifier) macImageOf(procs macProcs, path string, started time.Time) (Image, error) {
	f, err := procs.openImage(path)
	if err != nil {
		if errors.Is(err, errProcessGone) || errors.Is(err, errNoSuchFile) {
			return Image{}, refuse(ReasonImageDeleted, "%s: %v", path, err)
		}
		return Image{}, refuse(ReasonImagePathMismatch, "open %s: %v", path, err)
	}
	defer f.Close()
	st, err := f.facts()
	if err != nil {
		return Image{}, refuse(ReasonIdentityUnavailable, "fstat %s: %v", path, err)
	}
	w := &v.opts.weak
	if !w.NoFilesystemCheck && (!st.Local || untrustedFSTypes[st.FSType]) {
		return Image{}, refuse(ReasonUntrustedFilesystem, "%s on %s (local %v)", path, st.FSType, st.Local)
	}
	if !st.Regular {
		return Image{}, refuse(ReasonIdentityUnavailable, "%s is not a regular file", path)
	}
	if !w.NoImageChecks {
		if st.Nlink == 0 {
			return Image{}, refuse(ReasonImageDeleted, "%s", path)
		}
		if started.IsZero() || st.Changed.After(started) {
			return Image{}, refuse(ReasonImagePathMismatch, "%s changed after the process started", path)
		}
	}
	hash, err := v.hashMacImage(f, st.Key)
	if err != nil {
		return Image{}, err
	}
	return Image{Path: path, Hash: hash}, nil
}

// errNoSuchFile is what openImage returns for ENOENT.
var errNoSuchFile = errors.New("no such file")

// hashMacImage hashes the opened file unless this version of it is cached.
func (v *Verifier) hashMacImage(f macImage, key fileKey) (string, error) {
	if h, ok := v.cache.get(key); ok {
		return h, nil
	}
	v.cache.countHash()
	h, err := hashReader(f)
	if err != nil {
		return "", refuse(ReasonIdentityUnavailable, "hash image: %v", err)
	}
	after, err := f.facts()
	if err != nil || after.Key != key {
		return "", refuse(ReasonIdentityUnavailable, "image changed while hashed")
	}
	v.cache.put(key, h)
	return h, nil
}

// macScriptRule applies the macOS answer to scripts and couriers. The
// daemon cannot read another process's environment on macOS (the kernel
// returns it to root only), so it cannot rule out the variables that make
// an interpreter run code its script does not hold (PS4, BASH_FUNC_*,
// SHELLOPTS, PYTHONSTARTUP, NODE_OPTIONS, ...). A script is therefore never
// a caller's identity here: a known interpreter is refused with
// script_unverifiable (rather than queued, which would invite approving the
// interpreter itself), and keychain-auth's own CLI, which relays only for
// scripts, with courier_unverifiable. Both are policy answers: the
// connection stays open, so status and the admin messages still work.
func (v *Verifier) macScriptRule(id *Identity) {
	switch {
	case v.opts.SelfHash != "" && id.Exe.Hash == v.opts.SelfHash:
		id.ScriptRefused = refuse(ReasonCourierUnverifiable,
			"on macOS keychain-auth's CLI cannot act for the script that ran it (the daemon cannot read a script's environment there); call the socket from a registered program instead")
	case lookupInterpreter(filepath.Base(id.Exe.Path)) != nil:
		id.ScriptRefused = refuse(ReasonScriptUnverifiable,
			"%s is an interpreter; on macOS the daemon cannot read its environment, so no script it runs can be identified; call the socket from a registered program instead",
			id.Exe.Path)
	}
}
