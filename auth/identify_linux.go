package auth

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keychain-auth/keychain-auth/internal/fresh"
)

const (
	maxCmdline = 1 << 20 // read whole up to this; beyond, CommandLineCut and no script
	maxEnviron = 8 << 20 // refused beyond: a variable must not hide past a limit
	maxStatus  = 64 << 10
)

// Identify reports who is behind the connection now. Call it once when
// the connection is accepted (the broker refuses an unregistered caller at
// once) and once per request, after the request was read: it re-checks
// that the connecting process is alive, identifies its running image (and
// script), and applies the courier rule. Errors are *Error.
//
// The first call pins the process's address space (pin_linux.go); a later
// request from the same address space is answered from the identity found
// before, after the checks of what can change without an exec (tracer,
// liveness, the files it rests on, a courier's parent).
func (p *Peer) Identify() (*Identity, error) {
	p.stamp = fresh.Stamp{}
	if p.sys.cached != nil {
		if id, err := p.identifyCached(); id != nil || err != nil {
			return id, err
		}
	}
	pinned := p.pinAddressSpace()
	t := p.target()
	id, st, err := p.v.identify(t)
	if err != nil {
		return nil, err
	}
	if err := p.checkExec(); err != nil {
		return nil, err
	}
	if pinned {
		if err := p.checkPin(); err != nil {
			return nil, err
		}
	}
	id.UID = p.uid
	id.ReducedAssurance = p.reduced
	if p.v.opts.SelfHash == "" || id.Exe.Hash != p.v.opts.SelfHash {
		p.remember(id, noParent())
		return id, nil
	}
	cid, parent, err := p.v.courier(t, id, st.ppid, pinned)
	if err != nil {
		p.sys.forget()
		return nil, err
	}
	p.remember(cid, parent)
	return cid, nil
}

// identify gathers the Identity of t (without UID and assurance, which the
// caller knows) and the parsed status it read.
func (v *Verifier) identify(t target) (*Identity, procStatus, error) {
	v.full.Add(1)
	if err := t.alive(); err != nil {
		return nil, procStatus{}, err
	}
	exe, key, err := v.exeImage(t)
	if err != nil {
		return nil, procStatus{}, err
	}
	id := &Identity{PID: t.pid, Exe: exe, exeKey: key}
	st, err := v.readProcFacts(t, id)
	if err != nil {
		return nil, procStatus{}, err
	}
	id.Script, id.ScriptRefused = v.findScript(t, exe.Path, id)
	// The /proc reads above named t only if t is still alive now.
	if err := t.alive(); err != nil {
		return nil, procStatus{}, err
	}
	return id, st, nil
}

// readProcFacts fills CommandLine, InjectedEnv and TracerPID.
func (v *Verifier) readProcFacts(t target, id *Identity) (procStatus, error) {
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	b, cut, err := readProcPrefix(t.pid, "cmdline", bp, maxCmdline)
	if err != nil {
		return procStatus{}, v.unavailable(t, err)
	}
	id.CommandLine, id.CommandLineCut = splitNUL(b), cut
	if b, err = readProc(t.pid, "environ", bp, maxEnviron); err != nil {
		return procStatus{}, v.unavailable(t, err)
	}
	id.InjectedEnv, id.shellEnv = scanEnv(b)
	st, err := readStatus(t.pid, bp)
	if err != nil {
		return procStatus{}, v.unavailable(t, err)
	}
	id.TracerPID = st.tracerPID
	return st, nil
}

func readStatus(pid int, bp *[]byte) (procStatus, error) {
	b, err := readProc(pid, "status", bp, maxStatus)
	if err != nil {
		return procStatus{}, err
	}
	st, ok := parseStatus(b)
	if !ok {
		return procStatus{}, refuse(ReasonIdentityUnavailable, "parse status of %d", pid)
	}
	return st, nil
}

// unavailable turns a failed /proc read into peer_exited when the process
// is gone, else identity_unavailable.
func (v *Verifier) unavailable(t target, err error) error {
	if aerr := t.alive(); aerr != nil {
		return aerr
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	return refuse(ReasonIdentityUnavailable, "pid %d: %v", t.pid, err)
}

// exeImage opens the running image through /proc/PID/exe (never by its
// path string), refuses untrusted filesystems and deleted images, hashes
// the opened file (or hits the cache), and reports the path only after
// checking that it names the same file in the daemon's view.
func (v *Verifier) exeImage(t target) (Image, fileKey, error) {
	fd, err := unix.Open(procPath(t.pid, "exe"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Image{}, fileKey{}, v.unavailable(t, err)
	}
	defer unix.Close(fd)
	link, err := readlinkProc(t.pid, "exe")
	if err != nil {
		return Image{}, fileKey{}, v.unavailable(t, err)
	}
	return v.imageKeyOf(fd, link, ReasonImageDeleted)
}

// imageOf checks and hashes an opened file whose kernel-reported path is
// link. deletedReason is what a deleted file is refused with.
func (v *Verifier) imageOf(fd int, link, deletedReason string) (Image, error) {
	img, _, err := v.imageKeyOf(fd, link, deletedReason)
	return img, err
}

// imageKeyOf is imageOf that also returns the version of the file that was
// hashed (dev, inode, size, mtime, ctime).
func (v *Verifier) imageKeyOf(fd int, link, deletedReason string) (Image, fileKey, error) {
	w := &v.opts.weak
	if !w.NoFilesystemCheck {
		if err := checkFilesystem(fd); err != nil {
			return Image{}, fileKey{}, err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Image{}, fileKey{}, refuse(ReasonIdentityUnavailable, "fstat image: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Image{}, fileKey{}, refuse(ReasonIdentityUnavailable, "image is not a regular file")
	}
	if !w.NoImageChecks {
		if err := checkPath(&st, link, deletedReason); err != nil {
			return Image{}, fileKey{}, err
		}
	}
	link = strings.TrimSuffix(link, " (deleted)")
	hash, err := v.hashFD(fd, &st)
	if err != nil {
		return Image{}, fileKey{}, err
	}
	return Image{Path: link, Hash: hash}, keyOf(&st), nil
}

// checkPath refuses a deleted file and a path that names another file
// than the opened one (replaced, or a bind mount seen differently).
func checkPath(st *unix.Stat_t, link, deletedReason string) error {
	if st.Nlink == 0 || strings.HasSuffix(link, " (deleted)") {
		return refuse(deletedReason, "%s", link)
	}
	var pst unix.Stat_t
	if err := unix.Stat(link, &pst); err != nil {
		return refuse(ReasonImagePathMismatch, "stat %s: %v", link, err)
	}
	if pst.Dev != st.Dev || pst.Ino != st.Ino {
		return refuse(ReasonImagePathMismatch, "%s is another file now", link)
	}
	return nil
}

// hashFD returns the hash of the opened file, from the cache when this
// version of the file (dev, inode, size, mtime, ctime) was hashed before.
// A result is cached only if the file did not change while it was read.
func (v *Verifier) hashFD(fd int, st *unix.Stat_t) (string, error) {
	key := keyOf(st)
	if h, ok := v.cache.get(key); ok {
		return h, nil
	}
	v.cache.countHash()
	h, err := hashReader(fdReader(fd))
	if err != nil {
		return "", refuse(ReasonIdentityUnavailable, "hash image: %v", err)
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil || keyOf(&after) != key {
		return "", refuse(ReasonIdentityUnavailable, "image changed while hashed")
	}
	v.cache.put(key, h)
	return h, nil
}

func readlinkProc(pid int, name string) (string, error) {
	return readlink(procPath(pid, name))
}

func readlink(path string) (string, error) {
	var buf [unix.PathMax]byte
	n, err := unix.Readlink(path, buf[:])
	if err != nil {
		return "", err
	}
	if n >= len(buf) {
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

// baseName is the executable's name for the interpreter table.
func baseName(path string) string { return filepath.Base(path) }
