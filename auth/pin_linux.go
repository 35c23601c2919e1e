package auth

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// A kept connection's identity, and what keeps it true.
//
// Identifying a process costs about a dozen /proc reads. On a kept
// connection most of what they find cannot change while the process runs
// the same program: the running image, the command line it was started
// with, the environment the loader saw, the namespaces. All of that changes
// only with an execve, and an execve gives the process a new address space.
//
// So the second Identify on a connection opens /proc/PID/mem before it
// reads anything. The descriptor refers to the address space the process had at
// that moment, not to the pid: once the process execs (or exits) that
// address space is gone and a read through the descriptor returns 0 bytes,
// whatever the new program is and whatever its layout (checked on Linux
// 6.18; mem_rw in fs/proc/base.c reads nothing once the mm has no users).
// A read that still returns a byte proves that the process has not exec'd
// since the descriptor was opened, with or without address-space
// randomization, which the exec stamp (exec_linux.go) cannot see when it is
// off and the same file is exec'd again.
//
// A later request on the connection is then answered from the kept identity
// when, after the request was read:
//   - the pinned address space still reads (no exec: else the connection is
//     refused exec_after_connect, as a kept connection always was);
//   - /proc/PID/status, read again through a descriptor opened with the pin,
//     gives the current TracerPid (a tracer attached since is refused by the
//     policy, as before);
//   - the image's path still names the same version of the same file (dev,
//     inode, size, mtime, ctime): if not, the full identification runs and
//     reports what changed. The stat that tells is skipped while the
//     process's watcher (internal/fresh), checked after the request was
//     read, has seen no change to the path, to any directory above it, or
//     to the file through any of its links since a stat found it unchanged;
//   - the process is alive: that status read neither failed (reaped) nor
//     showed a zombie; else the pidfd is polled, as on the full path.
//
// Only a plain executable is kept. Scripts, interpreters without a script,
// couriers (keychain-auth's own CLI) and refused identities take the full
// path on every request, because what they are rests on argv and
// descriptors, which change without an exec.
//
// What the pin does not see: an address space stays alive while any task
// uses it. A process that execs while another process shares its old
// address space (CLONE_VM without CLONE_THREAD, such as a vfork child that
// has not exec'd yet) keeps the old one alive until that sharer execs or
// exits. Only the identified program's own code can set that up, and the
// window closes with the sharer's exec; the exec stamp is still compared
// on the first request of a connection. See docs/performance.md.

// pinAddressSpace opens the pin, before the full identification of the
// second request on a connection whose first identity could be kept (a
// connection that makes one request, as the CLI does, pays nothing), and
// reports whether one is held. Without one (weakened for a canary, or the
// kernel refused the open), every request takes the full path, as before.
func (p *Peer) pinAddressSpace() bool {
	s := &p.sys
	if s.pinFD >= 0 {
		return true
	}
	w := &p.v.opts.weak
	if !s.keepable || s.pinTried || w.NoExecCheck || w.NoExecPin {
		return false
	}
	s.pinTried = true
	var addr [1]uint64
	// start_code: the first byte of the program's text, mapped while the
	// program runs.
	if err := statFieldsOf(p.pid, "task/"+itoa(p.pid)+"/stat", []int{26}, addr[:]); err != nil || addr[0] == 0 {
		return false
	}
	mem, err := unix.Open(procPath(p.pid, "mem"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	// The probe must read now, or a later failure would mean nothing.
	var probe [1]byte
	if n, err := preadRetry(mem, probe[:], int64(addr[0])); err != nil || n != 1 {
		unix.Close(mem)
		return false
	}
	status, err := unix.Open(procPath(p.pid, "status"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mem)
		return false
	}
	s.pinFD, s.statusFD, s.pinAddr = mem, status, int64(addr[0])
	p.stopPidfdPerChunk()
	return true
}

// stopPidfdPerChunk switches SCM_PIDFD off on a pinned connection. It is
// redundant there: every request is answered only after the connector is
// seen alive (its status read through the descriptor opened with the pin,
// or its own pidfd, held since Accept), so the connector held its
// pid from the connection to that moment, and a chunk whose
// SCM_CREDENTIALS carry that pid was written by it. The per-chunk pidfd
// costs the kernel a new file per message and the daemon an fstat and a
// close. Chunks already queued keep theirs and are still compared.
func (p *Peer) stopPidfdPerChunk() {
	s := &p.sys
	if s.pidfd < 0 || !s.passPidfd {
		return
	}
	var err error
	if cerr := p.raw.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSPIDFD, 0)
	}); cerr != nil || err != nil {
		return // keep checking them
	}
	s.passPidfd = false
}

// checkPin refuses a connector whose pinned address space is gone: it
// exec'd (exec_after_connect) or exited (peer_exited) since the pin.
func (p *Peer) checkPin() error {
	s := &p.sys
	var b [1]byte
	n, err := preadRetry(s.pinFD, b[:], s.pinAddr)
	if err == nil && n == 1 {
		return nil
	}
	s.cached = nil
	if aerr := p.target().alive(); aerr != nil {
		return aerr
	}
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "pid %d: read pinned address space: %v", p.pid, err)
	}
	return refuse(ReasonExecAfterConnect, "pid %d exec'ed since it was identified on this connection", p.pid)
}

// remember keeps id for the next requests on this connection when it is a
// plain executable and its address space is pinned (or, for the canary of
// the pin, when the exec stamp alone is to be trusted).
func (p *Peer) remember(id *Identity) {
	s := &p.sys
	s.cached, s.exeClean = nil, fresh.Stamp{}
	s.keepable = id != nil && id.Script == nil && id.ScriptRefused == nil && id.Courier == nil && !IsInterpreter(id.Exe.Path)
	if s.keepable && (s.pinFD >= 0 || p.v.opts.weak.NoExecPin) {
		kept := *id
		s.cached = &kept
		s.exeClean = p.watchImage(&kept)
	}
}

// watchImage asks the watcher to watch the kept image's path and returns
// the Stamp from which a stat of it may be skipped: the watch's own, if a
// stat made after the watches were placed still finds the version that was
// hashed; else unknown (the path is stat'ed on every request).
func (p *Peer) watchImage(id *Identity) fresh.Stamp {
	from, ok := p.v.watcher.Watch(id.Exe.Path)
	if !ok {
		return fresh.Stamp{}
	}
	var now unix.Stat_t
	if err := unix.Stat(id.Exe.Path, &now); err != nil || keyOf(&now) != id.exeKey {
		return fresh.Stamp{}
	}
	return from
}

// identifyCached answers from the kept identity, or returns (nil, nil)
// when the full identification must run. It drops the kept identity first,
// so that any error leaves the connection on the full path.
func (p *Peer) identifyCached() (*Identity, error) {
	s := &p.sys
	kept := s.cached
	s.cached = nil
	t := p.target()
	// After the request was read: every change to a watched file made
	// before the client sent it is in the watcher's queue by now.
	p.stamp = p.v.watcher.Check()
	if s.pinFD >= 0 {
		if err := p.checkPin(); err != nil {
			return nil, err
		}
	} else if err := p.checkExec(); err != nil {
		return nil, err // NoExecPin: the exec stamp alone (the canary)
	}
	id := *kept
	seenAlive := false
	if !p.v.opts.weak.NoKeptRecheck {
		st, err := p.pinnedStatus()
		if err != nil {
			return nil, p.v.unavailable(t, err)
		}
		if !p.imageUnchanged(kept) {
			return nil, nil
		}
		id.TracerPID = st.tracerPID
		// The status descriptor was opened with the pin, after which the
		// full identification found the pidfd alive, so it belongs to
		// this process and not to its pid: a read fails once the process
		// is reaped, and shows Z while it is a zombie. A status read after
		// the request, neither failing nor showing a zombie, is the
		// pidfd's answer without its poll (the pidfd reports an exit only
		// once the leader is a zombie or gone). A leader that is a zombie
		// while other threads run takes the poll, as before.
		seenAlive = s.statusFD >= 0 && (st.living() || p.v.opts.weak.NoZombieCheck)
	}
	if !seenAlive {
		if err := t.alive(); err != nil {
			return nil, err
		}
	}
	s.cached = kept
	return &id, nil
}

// imageUnchanged reports whether the kept image's path still names the
// version that was hashed: without a stat while the watcher has seen no
// change since the last stat that found it so.
func (p *Peer) imageUnchanged(kept *Identity) bool {
	s := &p.sys
	if s.exeClean.Covers(p.stamp) {
		return true
	}
	var now unix.Stat_t
	if err := unix.Stat(kept.Exe.Path, &now); err != nil || keyOf(&now) != kept.exeKey {
		return false
	}
	if p.stamp.Since(s.exeClean) {
		s.exeClean = p.stamp // the stat came after this Check
	}
	return true
}

// pinnedStatus reads /proc/PID/status through the descriptor opened with
// the pin (a fresh open without one).
func (p *Peer) pinnedStatus() (procStatus, error) {
	s := &p.sys
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	if s.statusFD < 0 {
		return readStatus(p.pid, bp)
	}
	b := (*bp)[:cap(*bp)]
	n, err := preadRetry(s.statusFD, b, 0)
	if err != nil {
		return procStatus{}, err
	}
	if n == len(b) {
		return procStatus{}, refuse(ReasonIdentityUnavailable, "status of %d longer than %d bytes", p.pid, len(b))
	}
	st, ok := parseStatus(b[:n])
	if !ok {
		return procStatus{}, refuse(ReasonIdentityUnavailable, "parse status of %d", p.pid)
	}
	return st, nil
}

func preadRetry(fd int, b []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, b, off)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
