package auth

// Test-only weakening of the Verifier, for the attack suite
// (auth/attack_*_test.go) and the canaries in this package's tests.
//
// Every security check can be switched off on its own, so that a test can
// first show its attack succeeding against a verifier without that check
// (the canary) and then show the real verifier refusing it with the
// specific reason. Nothing here is reachable from a non-test build: the
// field lives unexported on Options and only this file sets it.
//
//	NoSenderCheck     Read accepts every chunk: no SCM_CREDENTIALS/SCM_PIDFD
//	                  comparison, chunks without credentials pass
//	                  (exec-after-connect, pidfd_getfd theft, SCM_RIGHTS hand-off).
//	NoPidfd           the naive daemon: SO_PEERCRED pid only, no pidfd, no
//	                  liveness checks, /proc/PID read by number (PID reuse).
//	NoNamespaceCheck  peers in other user/pid/mount namespaces are accepted
//	                  (forged SCM_CREDENTIALS from a user+pid namespace).
//	NoFilesystemCheck no fstatfs: images on FUSE, NFS, 9p, ... are hashed.
//	NoImageChecks     deleted images and a path that names another file
//	                  (replaced, bind-mounted) are accepted.
//	NoScriptArgvCheck any argument naming an existing file becomes the
//	                  Script, whatever options precede it (bash -c, python3 -c).
//	ScriptByCwd       the old script rule: a relative script path is resolved
//	                  against /proc/PID/cwd (which the process can change
//	                  after exec) and any descriptor naming it is accepted,
//	                  inherited ones included.
//	NoScriptFileCheck scripts are accepted whatever their mode, owner or
//	                  filesystem (group-writable script, foreign owner).
//	AllowPassRights   SO_PASSRIGHTS is left on, so SCM_RIGHTS reaches Read.
//	KeepPassedFDs     received descriptors are not closed (the fd-leak canary;
//	                  the read is still refused).
//	ForcePidfdOpen    behave as on a kernel without SO_PEERPIDFD
//	                  (pidfd_open + start time, ReducedAssurance).
//	NoExecCheck       no exec snapshot at a request's first chunk: a connector
//	                  that writes its request and then execs an approved
//	                  binary is identified as that binary (exec_after_connect).
//	NoUIDCheck        a peer running under another uid is accepted
//	                  (uid_mismatch).
//	NoCmdlineCutCheck a command line longer than the daemon reads still
//	                  names a script: its cut last argument is taken as the
//	                  script path (command_line_truncated).
//	NoScriptOptionCheck a script run with an option that prints or runs
//	                  code (bash -x, -o xtrace) or with a shell variable that
//	                  does (PS4, SHELLOPTS=xtrace, BASH_FUNC_*) is still the
//	                  identity (unsafe_interpreter_option, unsafe_shell_variable).
//	NoExecPin         a kept connection's identity is reused while the exec
//	                  stamp is unchanged, without pinning the address space:
//	                  a re-exec of the same file with randomization off (and
//	                  an injection variable) keeps the first identity
//	                  (exec_after_connect).
//	NoKeptRecheck     a kept identity answers without re-reading the tracer
//	                  or the image's path and version: a tracer attached, or
//	                  the image replaced, after the identification goes
//	                  unseen (traced_process, image_path_mismatch).
//	NoZombieCheck     on a kept connection, a status read through the
//	                  pinned descriptor counts as proof of life even when it
//	                  shows a zombie: a request written just before the
//	                  process exited, while another process sharing its
//	                  address space keeps the pin readable, is answered
//	                  (peer_exited).
//
// Usage from package auth_test:
//
//	opts := auth.WithWeakening(auth.Options{}, auth.Weakening{NoSenderCheck: true})
//	v, err := auth.NewVerifier(opts)

// Weakening is the set of switches above.
type Weakening = weakening

// WithWeakening returns opts with the given checks switched off.
func WithWeakening(opts Options, w Weakening) Options {
	opts.weak = w
	return opts
}

// HashCount is how many files v actually hashed (cache misses).
func HashCount(v *Verifier) int {
	v.cache.mu.Lock()
	defer v.cache.mu.Unlock()
	return v.cache.hashes
}
