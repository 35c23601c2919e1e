// Package auth answers one question for the daemon: which program is on the
// other end of this connection, as far as the kernel can tell. It reports
// facts (process, image, script, environment hygiene) and refuses with an
// *Error when the kernel's answer cannot be trusted. It does not know the
// policy; the policy package decides what an Identity may do.
package auth

import "fmt"

// Image is an executable or script file as the daemon identified it.
type Image struct {
	// Path is absolute and symlink-resolved.
	Path string
	// Hash is "sha256:" followed by 64 lowercase hex digits of the file's bytes
	// (for an executable: of the running image, read through /proc/PID/exe).
	Hash string
}

// Identity is what the daemon knows about the process behind a request.
type Identity struct {
	PID int
	UID uint32
	// Exe is the running executable image.
	Exe Image
	// Script is set when Exe is a known interpreter running a script file
	// the daemon could verify; the script is then the program the policy
	// is checked against.
	Script *Image
	// ScriptRefused is set when Exe is a known interpreter whose command
	// line names a script the daemon will not take as the caller's identity,
	// and says why: Reason is a wire reason code, Detail a sentence for the
	// person who has to act (no secret, no value). Script is then nil, and
	// the policy denies with Reason instead of queueing the interpreter.
	ScriptRefused *Error
	// ScriptOptions, when Script is set, are the interpreter's arguments
	// before the script (["-I"] for `python3 -I tool.py`; empty for none),
	// which a script entry may pin (config.Interpreter).
	ScriptOptions []string
	// CommandLine is the process's argv (for the pending queue and audit).
	// When CommandLineCut is set it holds only a prefix, whose last element
	// may itself be cut.
	CommandLine []string
	// CommandLineCut is set when /proc/PID/cmdline is longer than the daemon
	// reads (1 MiB). Such a command line never names a script.
	CommandLineCut bool
	// InjectedEnv names the loader or interpreter injection variables found
	// in the process's environment (LD_PRELOAD, PYTHONPATH, ...), sorted.
	InjectedEnv []string
	// shellEnv names the variables of the environment that make a shell
	// print or run code (PS4, BASH_FUNC_*, ...), sorted; a script run
	// with any is refused (ScriptRefused).
	shellEnv []string
	// exeKey and scriptKey are the versions of Exe's and Script's files
	// that were hashed (Linux).
	exeKey, scriptKey fileKey
	// TracerPID is the tracer's pid from /proc/PID/status, 0 when not traced.
	TracerPID int
	// ReducedAssurance is set when the kernel offered no pidfd for the peer
	// and PID reuse was ruled out only by start time.
	ReducedAssurance bool
	// Courier, when set, is keychain-auth's own CLI process that relayed the
	// request; this Identity is then the CLI's parent, on whose behalf it asked.
	Courier *Identity
}

// Program is the image the policy is checked against: the script when an
// interpreter runs one, else the executable.
func (id *Identity) Program() Image {
	if id.Script != nil {
		return *id.Script
	}
	return id.Exe
}

// Error is a refusal to identify a peer. Reason is a wire reason code (see
// the Reason constants) and is sent to the client; Detail goes only to the
// daemon log and the audit line.
type Error struct {
	Reason string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "identity refused: " + e.Reason
	}
	return fmt.Sprintf("identity refused: %s: %s", e.Reason, e.Detail)
}
