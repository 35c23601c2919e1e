package auth

import "fmt"

// Reason codes carried by *Error. They are wire reason codes (status
// "denied"): the daemon sends Reason to the client and keeps Detail for its
// own log and the audit line.
const (
	// ReasonUIDMismatch: the peer's effective uid is not the daemon's.
	ReasonUIDMismatch = "uid_mismatch"
	// ReasonForeignNamespace: the peer (or, for a courier, its parent) is in
	// another user, pid or mount namespace, where the kernel's answers about
	// it cannot be trusted; see Options.AllowForeignNamespaces.
	ReasonForeignNamespace = "foreign_namespace"
	// ReasonSenderNotConnector: a chunk of the request was written by a
	// process other than the one that connected (a forked child, a process
	// that took the descriptor with pidfd_getfd or SCM_RIGHTS), or it came
	// without the sender credentials the kernel attaches.
	ReasonSenderNotConnector = "sender_not_connector"
	// ReasonFDPassingRefused: the peer sent file descriptors (SCM_RIGHTS);
	// they were closed unused and the connection is refused.
	ReasonFDPassingRefused = "fd_passing_refused"
	// ReasonPeerExited: the connecting process is gone (or, for a courier,
	// its parent changed), so no identity can be tied to the connection.
	ReasonPeerExited = "peer_exited"
	// ReasonUntrustedFilesystem: the running image lives on FUSE, a network
	// filesystem or 9p, which can serve the daemon other bytes than execve got.
	ReasonUntrustedFilesystem = "untrusted_filesystem"
	// ReasonImageDeleted: the running image was deleted (or replaced) since
	// the process started.
	ReasonImageDeleted = "image_deleted"
	// ReasonImagePathMismatch: the path the kernel reports for the image no
	// longer names the same file in the daemon's view (replaced, bind-mounted).
	ReasonImagePathMismatch = "image_path_mismatch"
	// ReasonExecAfterConnect: the connecting process ran another program
	// (execve) after the daemon accepted the connection, so the request may
	// have been written by a program other than the one identified.
	ReasonExecAfterConnect = "exec_after_connect"
	// ReasonCourierChain: keychain-auth's CLI was started by keychain-auth
	// itself; couriers are not followed more than one level.
	ReasonCourierChain = "courier_chain"
	// ReasonCommandLineTruncated: an interpreter's command line is longer
	// than the daemon reads, so the script it names cannot be known (the
	// last argument read may be cut inside a longer file name).
	ReasonCommandLineTruncated = "command_line_truncated"
	// ReasonCourierUnverifiable: keychain-auth's own CLI is the client on a
	// platform where the daemon cannot verify on whose behalf it runs
	// (Windows: the creator of a process names its parent; macOS: the CLI
	// relays only for scripts, which cannot be verified there), so the
	// courier rule is not applied and the request is refused.
	ReasonCourierUnverifiable = "courier_unverifiable"
	// ReasonScriptUnverifiable: the caller is an interpreter on a platform
	// where the daemon cannot verify a script's identity (macOS: another
	// process's environment is readable by root only, so the variables that
	// make an interpreter run code its script does not hold cannot be ruled
	// out; Windows: an interpreter's command line is in its own memory, so
	// which script it runs cannot be verified). A policy answer: the
	// connection stays open.
	ReasonScriptUnverifiable = "script_unverifiable"
	// ReasonIdentityUnavailable: the kernel would not tell (unreadable /proc
	// entries, a non-dumpable or zombie peer, an unsupported platform).
	ReasonIdentityUnavailable = "identity_unavailable"
)

// Reasons for not taking the script an interpreter's command line names
// as its identity (Identity.ScriptRefused), with a Detail that tells the
// person who runs the script what to change. They are policy answers: the
// connection stays open, and the interpreter is not queued for approval
// (approving python3 itself would hand its permissions to any code it runs).
const (
	// ReasonScriptWritableByOthers: the script file, or the directory it
	// is in, can be written by a group or other users, or is owned by a
	// user other than the caller and root: someone else could put other
	// code there under the registered name.
	ReasonScriptWritableByOthers = "script_writable_by_others"
	// ReasonScriptPathRelative: the interpreter names its script by a
	// relative path and holds no descriptor on it, so the daemon cannot
	// tell which file it runs (the process can change directory after it
	// starts).
	ReasonScriptPathRelative = "script_path_relative"
)

// maxArgInDetail bounds how much of a caller-chosen argument a Detail
// repeats.
const maxArgInDetail = 256

// writableRefusal says that path (the script, or its directory when dir
// is set), with mode perm and owner uid, can be written by someone other
// than the caller.
func writableRefusal(script, path string, dir bool, perm, uid uint32) *Error {
	what := "the script " + script
	if dir {
		what = "the directory " + path + " that holds " + script
	}
	why := fmt.Sprintf("its mode is %04o: its group or other users can write it", perm&0o7777)
	fix := fmt.Sprintf("chmod go-w %s", path)
	if perm&0o022 == 0 {
		why = fmt.Sprintf("it is owned by uid %d, not by you or root", uid)
		fix = "move the script to a directory of your own"
	}
	return refuse(ReasonScriptWritableByOthers,
		"%s is writable by others (%s), so another user could put other code there under the registered name; %s, then run it again", what, why, fix)
}

// relativeRefusal says that interp names its script by the relative path arg.
func relativeRefusal(interp, arg string) *Error {
	if len(arg) > maxArgInDetail {
		arg = arg[:maxArgInDetail] + "..."
	}
	return refuse(ReasonScriptPathRelative,
		"%s names its script by the relative path %q, which the daemon cannot tie to one file (a process can change directory after it starts); use the absolute path: %s /full/path/to/script, or start the script as /full/path/to/script rather than ./script",
		interp, arg, interp)
}

func refuse(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
