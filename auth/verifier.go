package auth

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// Options configures a Verifier.
type Options struct {
	// SelfHash is the "sha256:<hex>" hash of keychain-auth's own image. A
	// peer running that image is the CLI acting as a courier: Identify then
	// reports the CLI's parent, with Courier set to the CLI. Empty disables
	// the courier rule.
	SelfHash string
	// AllowForeignNamespaces accepts peers in other user, pid or mount
	// namespaces (containers). It is an explicit opt-in: inside a user+pid
	// namespace a process can forge the credentials the sender check relies
	// on, and image paths are resolved in the daemon's mount namespace, so a
	// foreign peer usually fails with image_path_mismatch anyway.
	AllowForeignNamespaces bool
	// MultiUser is system mode: peers of every uid are served, each as a
	// tenant of its own (the broker scopes every request to Identity.UID).
	// A script must then be owned by its caller's uid or root, and a
	// courier's parent must run as the courier's uid.
	MultiUser bool

	// weak turns individual checks off; only export_test.go sets it, so the
	// attack tests can show each attack succeeding before the real check.
	weak weakening
}

// weakening names the checks a test can switch off. The fields are exported
// only so that export_test.go can alias the type for external test packages;
// the type itself is unexported, so production code cannot name it.
type weakening struct {
	NoSenderCheck       bool // Read accepts chunks from anyone, with or without credentials
	NoPidfd             bool // naive: SO_PEERCRED pid only, no pidfd, no liveness checks
	NoNamespaceCheck    bool // accept peers in foreign user/pid/mount namespaces
	NoFilesystemCheck   bool // skip fstatfs (FUSE, NFS, 9p images accepted)
	NoImageChecks       bool // skip the deleted-image and path/inode checks
	NoScriptArgvCheck   bool // any argument naming an existing file becomes Script
	NoScriptFileCheck   bool // skip mode, owner and filesystem checks on scripts
	ScriptByCwd         bool // old rule: relative script paths via /proc/PID/cwd or any fd
	AllowPassRights     bool // leave SO_PASSRIGHTS on so SCM_RIGHTS reaches Read
	KeepPassedFDs       bool // do not close received descriptors (leak canary)
	ForcePidfdOpen      bool // act as a kernel without SO_PEERPIDFD
	NoExecCheck         bool // skip the per-request exec snapshot (exec_after_connect)
	NoUIDCheck          bool // accept a peer of another uid
	NoCmdlineCutCheck   bool // take a script from a command line read only in part
	NoScriptOptionCheck bool // a script run with -x, PS4, BASH_FUNC_*, ... is still the identity
	NoExecPin           bool // keep a connection's identity on an unchanged exec stamp, without the address-space pin
	NoKeptRecheck       bool // answer from a kept identity without re-reading the tracer or the image's path
	NoZombieCheck       bool // a kept identity's status read proves the process alive even when it shows a zombie
	FreshNoAncestors    bool // the kept image's watch covers only its own directory, not those above it
	FreshNoInode        bool // the kept image's watch does not cover the file itself (other links)
	NoParentRecheck     bool // answer a kept courier's identity without re-checking its parent (pin, status, still the CLI's parent)
	KeptScriptByStat    bool // a kept script whose watch saw a change is looked at with a stat, as an image is
}

// Verifier identifies peers of the daemon's socket. It is safe for
// concurrent use; it holds a bounded cache of image hashes.
//
// On Linux it follows docs/security.md: at Accept, peer euid == ours, a
// pidfd from SO_PEERPIDFD (else pidfd_open plus start time, marked
// ReducedAssurance), same user/pid/mount namespaces, SO_PASSCRED,
// SO_PASSPIDFD and SO_PASSRIGHTS=0 on the socket. Per chunk (Read): the
// SCM_CREDENTIALS pid/uid and the SCM_PIDFD inode (until the connection
// is pinned: pin_linux.go) are the connector's;
// descriptors are closed. At the first Identify (admission), and whenever
// the kept identity cannot answer: pidfd alive, open /proc/PID/exe,
// fstatfs (no FUSE/network/9p), not deleted, path names the same inode,
// hash of the opened file (cached by dev, inode, size, mtime, ctime),
// cmdline/environ/status, pidfd still alive. Per request after that, from
// the same address space: the kept identity's re-checks (pin_linux.go).
//
// Data a client writes right after connect, before the daemon's accept(),
// carries its credentials too (the kernel records the sender at sendmsg;
// checked on Linux 6.18 with and without PrepareListener).
//
// What it does not stop (same-uid, documented in docs/security.md): code
// injected into an approved process (ptrace without Yama, /proc/PID/mem,
// LD_PRELOAD with a scrubbed environment); InjectedEnv and TracerPID are
// heuristics for the audit trail. A non-dumpable client cannot be
// identified (identity_unavailable). Scripts owned and writable by the user
// can be rewritten while they run (the hash is of the file at request
// time). Script identity rests on the interpreter's argv and descriptors,
// which code running in that interpreter can rewrite (a python3 -c that
// overwrites its own argv claims any registered script given by absolute
// path); see SECURITY.md. zsh sources ~/.zshenv before any script. The
// SCM_PIDFD inode comparison needs pidfs (6.9+); on 6.5-6.8 the pid
// comparison remains. Foreign namespaces, when allowed, let
// a peer forge SCM_CREDENTIALS.
type Verifier struct {
	opts    Options
	cache   *hashCache
	sys     verifierSys
	watcher *fresh.Watcher // nil: kept identities stat their image every request
	full    atomic.Int64   // full identifications made (the tests of kept identities read it)
}

// NewVerifier returns a Verifier for the calling process (its euid and
// namespaces are what peers must share).
func NewVerifier(opts Options) (*Verifier, error) {
	v := &Verifier{opts: opts, cache: newHashCache(defaultCacheSize), watcher: fresh.Default()}
	if w := opts.weak; w.FreshNoAncestors || w.FreshNoInode {
		// A watcher of its own (an inotify instance): the tests that
		// weaken it close it with the verifier (helper_test.go).
		fw, err := fresh.New(fresh.Weakening{NoAncestors: w.FreshNoAncestors, NoInode: w.FreshNoInode})
		if err != nil {
			return nil, err
		}
		v.watcher = fw
	}
	if err := v.sys.init(); err != nil {
		return nil, err
	}
	return v, nil
}

// Peer is one accepted connection whose connecting process is known. Read
// verifies that every chunk was written by that process; Write and Close
// act on the connection. A Peer is used by one goroutine at a time.
type Peer struct {
	v    *Verifier
	conn net.Conn
	raw  syscall.RawConn
	pid  int
	uid  uint32
	// reduced marks a pidfd obtained by pidfd_open (no SO_PEERPIDFD).
	reduced bool
	sys     peerSys
	// stamp is the watcher's generation checked after the current request
	// was read (kept connections on Linux; else unknown).
	stamp fresh.Stamp

	closeOnce sync.Once
	closeErr  error
}

// Accept ties c to the process that connected it. It checks the peer's uid
// and namespaces, pins the process with a pidfd, and switches on
// per-message credentials. Call it once per connection, before any read.
// On error the caller still owns c.
//
// c is a *net.UnixConn on Linux and macOS and a named pipe connection from
// transport.ListenPipe on Windows; it must give access to its descriptor
// (syscall.Conn).
func (v *Verifier) Accept(c net.Conn) (*Peer, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, refuse(ReasonIdentityUnavailable, "connection %T has no descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, refuse(ReasonIdentityUnavailable, "raw conn: %v", err)
	}
	p := &Peer{v: v, conn: c, raw: raw}
	p.sys.reset()
	if err := p.setup(); err != nil {
		p.sys.release()
		return nil, err
	}
	return p, nil
}

// Write writes to the connection.
func (p *Peer) Write(b []byte) (int, error) { return p.conn.Write(b) }

// Close closes the connection and releases the peer's pidfd.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.conn.Close()
		p.sys.release()
	})
	return p.closeErr
}

// Fresh returns the watcher's Stamp checked after the current request was
// read, with which the daemon may skip the stat of another per-request
// file (the policy, the vault's journal). It is unknown unless the request
// was answered from a kept identity.
func (p *Peer) Fresh() fresh.Stamp { return p.stamp }

// SetDeadline sets the read and write deadlines of the connection.
func (p *Peer) SetDeadline(t time.Time) error { return p.conn.SetDeadline(t) }
