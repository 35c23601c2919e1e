package auth

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

// A connection's kept identity, and what keeps it true.
//
// Identifying a process costs a few dozen system calls, and the daemon
// identifies every connection twice before it answers anything: once when
// it accepts it (the broker refuses an unregistered caller at once), and
// again for its first request. Most of what it finds cannot change while
// the process runs the same program: the running image, the command line
// it was started with, the environment the loader saw, the namespaces,
// the script descriptor an interpreter holds. All of that changes only
// with an execve (which gives the process a new address space) or by code
// running inside the process itself.
//
// So the first Identify on a connection opens /proc/PID/mem before it
// reads anything. The descriptor refers to the address space the process
// had at that moment, not to the pid: once the process execs (or exits)
// that address space is gone and a read through the descriptor returns 0
// bytes, whatever the new program is and whatever its layout (checked on
// Linux 6.18; mem_rw in fs/proc/base.c reads nothing once the mm has no
// users). A read that still returns a byte proves that the process has
// not exec'd since the descriptor was opened, with or without
// address-space randomization, which the exec stamp (exec_linux.go)
// cannot see when it is off and the same file is exec'd again.
//
// A request is then answered from the kept identity when, after the
// request was read:
//   - the pinned address space still reads (no exec: else the connection is
//     refused exec_after_connect, as a kept connection always was);
//   - /proc/PID/status, read again through a descriptor opened with the pin,
//     gives the current TracerPid (a tracer attached since is refused by the
//     policy, as before);
//   - the files the identity rests on are unchanged: the image's path still
//     names the same version of the same file (dev, inode, size, mtime,
//     ctime), and a script's path, and every directory above it, saw no
//     change at all (the script's checks look at those directories). The
//     watcher (internal/fresh), checked after the request was read, tells
//     which need a look: an image's path is stat'ed only once it has seen
//     a change, and any change near a script sends the request through the
//     full identification, which reports what changed. A script whose path
//     cannot be watched is not kept;
//   - the process is alive: that status read neither failed (reaped) nor
//     showed a zombie; else the pidfd is polled, as on the full path;
//   - for keychain-auth's own CLI (a courier, courier_linux.go), the same
//     of the parent it speaks for, whose address space was pinned before
//     it was identified and whose pidfd is kept: the parent has not exec'd
//     (else the full identification finds what it runs now, as the courier
//     rule always did), is alive, not traced, still runs as the caller's
//     uid, and is still the CLI's parent; its image and script unchanged.
//
// Kept: plain executables, interpreters running a script they could
// verify, and couriers for either. Not kept: an interpreter without a
// script, and refused identities. What a script identity rests on besides
// its files, the interpreter's argv and descriptors, code running in that
// interpreter can rewrite at any time, before the first request as well as
// between two (SECURITY.md: an interpreter can claim any script), so a
// second reading of them adds nothing against it.
//
// What the pin does not see: an address space stays alive while any task
// uses it. A process that execs while another process shares its old
// address space (CLONE_VM without CLONE_THREAD, such as a vfork child that
// has not exec'd yet) keeps the old one alive until that sharer execs or
// exits. Only the identified program's own code can set that up, and the
// window closes with the sharer's exec. See docs/performance.md.

// pin holds an address space open, and the process's status file opened
// with it.
type pin struct {
	mem    int // /proc/PID/mem; -1 when not held
	status int // /proc/PID/status; -1 when not held
	addr   int64
}

func noPin() pin { return pin{mem: -1, status: -1} }

func (pn *pin) held() bool { return pn.mem >= 0 }

func (pn *pin) close() {
	for _, fd := range []*int{&pn.mem, &pn.status} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// openPin opens pid's address space and status file. It must read now, or
// a later failure would mean nothing. The caller proves afterwards, with
// the pidfd, that pid was still the process it means.
func openPin(pid int) (pin, bool) {
	pn := noPin()
	var addr [1]uint64
	// start_code: the first byte of the program's text, mapped while the
	// program runs.
	if err := statFieldsOf(pid, "task/"+itoa(pid)+"/stat", []int{26}, addr[:]); err != nil || addr[0] == 0 {
		return pn, false
	}
	mem, err := unix.Open(procPath(pid, "mem"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pn, false
	}
	pn.mem, pn.addr = mem, int64(addr[0])
	if ok, _ := pn.intact(); !ok {
		pn.close()
		return pn, false
	}
	if pn.status, err = unix.Open(procPath(pid, "status"), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		pn.close()
		return pn, false
	}
	return pn, true
}

// intact reports whether the pinned address space still reads: the
// process has neither exec'd nor exited since the pin was opened.
func (pn *pin) intact() (bool, error) {
	var b [1]byte
	n, err := preadRetry(pn.mem, b[:], pn.addr)
	return err == nil && n == 1, err
}

// readStatus reads /proc/PID/status through the descriptor opened with
// the pin (a fresh open without one).
func (pn *pin) readStatus(pid int) (procStatus, error) {
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	if pn.status < 0 {
		return readStatus(pid, bp)
	}
	b := (*bp)[:cap(*bp)]
	n, err := preadRetry(pn.status, b, 0)
	if err != nil {
		return procStatus{}, err
	}
	if n == len(b) {
		return procStatus{}, refuse(ReasonIdentityUnavailable, "status of %d longer than %d bytes", pid, len(b))
	}
	st, ok := parseStatus(b[:n])
	if !ok {
		return procStatus{}, refuse(ReasonIdentityUnavailable, "parse status of %d", pid)
	}
	return st, nil
}

// heldParent is a courier's parent as it was identified: its pidfd and its
// pinned address space, kept with the courier's identity.
type heldParent struct {
	pid   int
	pidfd int
	pin   pin
}

func noParent() heldParent { return heldParent{pidfd: -1, pin: noPin()} }

func (h *heldParent) close() {
	if h.pidfd >= 0 {
		unix.Close(h.pidfd)
	}
	h.pin.close()
	*h = noParent()
}

// keptFile is a file a kept identity rests on, with the watcher's Stamp
// before the last look that found it unchanged (unknown: looked at on
// every request).
type keptFile struct {
	path  string
	key   fileKey
	clean fresh.Stamp
	// script: judged also by the directories above it (trustedScript),
	// which a stat of the file does not show, so any change the watcher
	// reports sends the request through the full identification. An
	// image is looked at with a stat.
	script bool
}

// pinAddressSpace opens the connector's pin before its first full
// identification, and reports whether one is held. Without one (weakened
// for a canary, or the kernel refused the open), every request takes the
// full path.
func (p *Peer) pinAddressSpace() bool {
	s := &p.sys
	if s.pin.held() {
		return true
	}
	w := &p.v.opts.weak
	if s.pinTried || w.NoExecCheck || w.NoExecPin {
		return false
	}
	s.pinTried = true
	pn, ok := openPin(p.pid)
	if !ok {
		return false
	}
	s.pin = pn
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
// exec'ed (exec_after_connect) or exited (peer_exited) since the pin.
func (p *Peer) checkPin() error {
	s := &p.sys
	ok, err := s.pin.intact()
	if ok {
		return nil
	}
	s.forget()
	if aerr := p.target().alive(); aerr != nil {
		return aerr
	}
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "pid %d: read pinned address space: %v", p.pid, err)
	}
	return refuse(ReasonExecAfterConnect, "pid %d exec'ed since it was identified on this connection", p.pid)
}

// keepable: see the comment at the top of this file.
func keepable(id *Identity) bool {
	return id != nil && id.ScriptRefused == nil && (id.Script != nil || !IsInterpreter(id.Exe.Path))
}

// remember keeps id for the next requests on this connection when it is
// keepable, its address space is pinned (or, for the canary of the pin,
// when the exec stamp alone is to be trusted), the files it rests on can
// be followed, and, for a courier, its parent is pinned too (parent, which
// remember then owns).
func (p *Peer) remember(id *Identity, parent heldParent) {
	s := &p.sys
	s.forget()
	ok := keepable(id) && (s.pin.held() || p.v.opts.weak.NoExecPin) &&
		(id.Courier == nil || parent.pin.held())
	var files []keptFile
	if ok {
		files, ok = p.watchFiles(id)
	}
	if !ok {
		parent.close()
		return
	}
	kept := *id
	s.cached, s.files, s.parent = &kept, files, parent
}

// watchFiles asks the watcher to watch the files id rests on and returns
// them, each with the Stamp from which a look at it may be skipped: the
// watch's own, if a stat made after the watches were placed still finds
// the version that was hashed; else unknown. It fails when a script
// cannot be watched.
func (p *Peer) watchFiles(id *Identity) ([]keptFile, bool) {
	var files []keptFile
	if c := id.Courier; c != nil {
		files = append(files, keptFile{path: c.Exe.Path, key: c.exeKey})
	}
	files = append(files, keptFile{path: id.Exe.Path, key: id.exeKey})
	if id.Script != nil {
		files = append(files, keptFile{path: id.Script.Path, key: id.scriptKey, script: true})
	}
	for i := range files {
		f := &files[i]
		f.clean = p.watchFile(f.path, f.key)
		if f.script && !f.clean.Known() {
			return nil, false
		}
	}
	return files, true
}

func (p *Peer) watchFile(path string, key fileKey) fresh.Stamp {
	from, ok := p.v.watcher.Watch(path)
	if !ok {
		return fresh.Stamp{}
	}
	var now unix.Stat_t
	if err := unix.Stat(path, &now); err != nil || keyOf(&now) != key {
		return fresh.Stamp{}
	}
	return from
}

// identifyCached answers from the kept identity, or returns (nil, nil)
// when the full identification must run. It drops the kept identity first,
// so that any error leaves the connection on the full path.
func (p *Peer) identifyCached() (*Identity, error) {
	s := &p.sys
	kept, parent := s.cached, s.parent
	s.cached, s.parent = nil, noParent()
	id, err := p.answerKept(kept, &parent)
	if id == nil {
		parent.close()
		return nil, err
	}
	s.cached, s.parent = kept, parent
	return id, nil
}

func (p *Peer) answerKept(kept *Identity, parent *heldParent) (*Identity, error) {
	s := &p.sys
	t := p.target()
	// After the request was read: every change to a watched file made
	// before the client sent it is in the watcher's queue by now.
	p.stamp = p.v.watcher.Check()
	if s.pin.held() {
		if err := p.checkPin(); err != nil {
			return nil, err
		}
	} else if err := p.checkExec(); err != nil {
		return nil, err // NoExecPin: the exec stamp alone (the canary)
	}
	id := *kept
	seenAlive := false
	if !p.v.opts.weak.NoKeptRecheck {
		st, err := s.pin.readStatus(p.pid)
		if err != nil {
			return nil, p.v.unavailable(t, err)
		}
		if !p.filesUnchanged() {
			return nil, nil
		}
		if kept.Courier != nil {
			cli := *kept.Courier
			cli.TracerPID = st.tracerPID
			id.Courier = &cli
			if !p.v.opts.weak.NoParentRecheck && (st.ppid != parent.pid || !p.parentUnchanged(parent, &id)) {
				return nil, nil
			}
		} else {
			id.TracerPID = st.tracerPID
		}
		// The status descriptor was opened with the pin, after which the
		// full identification found the pidfd alive, so it belongs to
		// this process and not to its pid: a read fails once the process
		// is reaped, and shows Z while it is a zombie. A status read after
		// the request, neither failing nor showing a zombie, is the
		// pidfd's answer without its poll (the pidfd reports an exit only
		// once the leader is a zombie or gone). A leader that is a zombie
		// while other threads run takes the poll, as before.
		seenAlive = s.pin.status >= 0 && (st.living() || p.v.opts.weak.NoZombieCheck)
	}
	if !seenAlive {
		if err := t.alive(); err != nil {
			return nil, err
		}
	}
	return &id, nil
}

// parentUnchanged re-checks a kept courier's parent after the request was
// read, and sets its current tracer in id. False sends the request through
// the full identification, which reports what changed: the parent exec'd
// or exited, or its status says another uid, a zombie, or cannot be read.
// Its pin and status descriptor were opened after its pidfd and before the
// identification that ended with that pidfd alive, so they are the
// parent's, and a status read that works and shows a living task proves it
// still runs (as for the connector above).
func (p *Peer) parentUnchanged(parent *heldParent, id *Identity) bool {
	if ok, _ := parent.pin.intact(); !ok {
		return false
	}
	st, err := parent.pin.readStatus(parent.pid)
	if err != nil || !st.living() || !st.haveUID || st.euid != p.uid {
		return false
	}
	id.TracerPID = st.tracerPID
	return true
}

// filesUnchanged reports whether every file the kept identity rests on is
// as it was: without a look while the watcher has seen no change since the
// last look that found it so; a script that may have changed is not
// looked at but identified again.
func (p *Peer) filesUnchanged() bool {
	for i := range p.sys.files {
		f := &p.sys.files[i]
		if f.clean.Covers(p.stamp) {
			continue
		}
		if f.script && !p.v.opts.weak.KeptScriptByStat {
			return false
		}
		var now unix.Stat_t
		if err := unix.Stat(f.path, &now); err != nil || keyOf(&now) != f.key {
			return false
		}
		if p.stamp.Since(f.clean) {
			f.clean = p.stamp // the stat came after this Check
		}
	}
	return true
}

// forget drops the kept identity and its parent.
func (s *peerSys) forget() {
	s.cached, s.files = nil, nil
	s.parent.close()
}

func preadRetry(fd int, b []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, b, off)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
