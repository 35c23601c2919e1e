package auth

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxScanFDs bounds the search of an interpreter's open descriptors.
const maxScanFDs = 64

// findScript returns the script an interpreter runs, or nil when the
// executable is not a known interpreter, argv does not name a script in a
// verifiable form, or the file fails a check (then the Identity stays the
// interpreter, which no script entry matches). The *Error, when set, says
// why a script that argv names is refused (see Identity.ScriptRefused).
func (v *Verifier) findScript(t target, exePath string, id *Identity) (*Image, *Error) {
	in := lookupInterpreter(baseName(exePath))
	if in == nil {
		return nil, nil
	}
	argv := id.CommandLine
	if id.CommandLineCut && !v.opts.weak.NoCmdlineCutCheck {
		// The last argument read may be the prefix of a longer one: a
		// file named like the registered script plus a suffix.
		return nil, refuse(ReasonCommandLineTruncated,
			"%s's command line is longer than the %d bytes the daemon reads; a script is identified only from a whole command line", baseName(exePath), maxCmdline)
	}
	arg, ok, unsafeOpt := in.scriptArgOpts(argv)
	if v.opts.weak.NoScriptArgvCheck {
		arg, ok = naiveScriptArg(t, argv)
	}
	if !ok {
		return nil, nil
	}
	fd, link := v.openScript(t, in, arg)
	if fd < 0 {
		if !filepath.IsAbs(arg) && !v.opts.weak.ScriptByCwd {
			return nil, relativeRefusal(baseName(exePath), arg)
		}
		return nil, nil
	}
	defer unix.Close(fd)
	if !v.opts.weak.NoScriptFileCheck {
		if ok, e := v.trustedScript(fd, link, t.uid); !ok {
			return nil, e
		}
	}
	img, key, err := v.imageKeyOf(fd, link, ReasonImageDeleted)
	if err != nil {
		return nil, nil
	}
	if !v.opts.weak.NoScriptOptionCheck {
		if e := scriptRefusal(baseName(exePath), img.Path, unsafeOpt, id.shellEnv); e != nil {
			return nil, e
		}
	}
	id.ScriptOptions = in.scriptOptions(argv)
	id.scriptKey = key
	return &img, nil
}

// openScript opens the script file from evidence that does not depend on
// the process's current directory, which it can change after exec: the
// descriptor the interpreter itself keeps on the script, or else an
// absolute argv path that names the file with no symlink on the way. A
// relative path without such a descriptor names nothing verifiable (a
// process could run its own ./tool.py and then cd to where the registered
// tool.py lives).
func (v *Verifier) openScript(t target, in *interpreter, arg string) (int, string) {
	if v.opts.weak.ScriptByCwd {
		return openScriptLegacy(t, arg)
	}
	if fd, link := openHeldScript(t, in.hold, arg); fd >= 0 {
		return fd, link
	}
	if filepath.IsAbs(arg) {
		return openCanonical(arg)
	}
	return -1, ""
}

// openHeldScript opens the interpreter's own descriptor on its script,
// when it has one that names arg: fd 255 for bash, the lowest
// close-on-exec fd from 10 up for dash. The descriptor must be
// close-on-exec (so it was opened by the interpreter, not inherited from
// whoever started it) and a regular file.
func openHeldScript(t target, hold scriptHold, arg string) (int, string) {
	var n int
	switch hold {
	case holdBash:
		n = 255
	case holdDash:
		if n = lowestCloexecFD(t.pid, 10); n < 0 {
			return -1, ""
		}
	default:
		return -1, ""
	}
	return openProcFD(t.pid, n, filepath.Clean(arg))
}

// openProcFD opens descriptor n of pid and returns it with its path when
// it is a close-on-exec regular file whose path matches want. It opens
// first and checks after, and compares the inode again at the end, so a
// descriptor swapped meanwhile is not mistaken for the checked one.
func openProcFD(pid, n int, want string) (int, string) {
	name := "fd/" + itoa(n)
	fd, err := unix.Open(procPath(pid, name), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, ""
	}
	link, err := readlinkProc(pid, name)
	var mine, theirs unix.Stat_t
	ok := err == nil && pathMatches(link, want) && fdCloexec(pid, n) &&
		unix.Fstat(fd, &mine) == nil && mine.Mode&unix.S_IFMT == unix.S_IFREG &&
		unix.Stat(procPath(pid, name), &theirs) == nil &&
		mine.Dev == theirs.Dev && mine.Ino == theirs.Ino
	if !ok {
		unix.Close(fd)
		return -1, ""
	}
	return fd, link
}

// lowestCloexecFD returns the lowest descriptor number >= from that pid
// holds close-on-exec, or -1.
func lowestCloexecFD(pid, from int) int {
	nums := fdNumbers(pid, from)
	sort.Ints(nums)
	for _, n := range nums[:min(len(nums), maxScanFDs)] {
		if fdCloexec(pid, n) {
			return n
		}
	}
	return -1
}

// fdNumbers lists the descriptor numbers >= from that pid has open, read
// from /proc/PID/fd with getdents itself (an os.File would also register
// the directory with Go's poller: four system calls, one failing).
func fdNumbers(pid, from int) []int {
	fd, err := unix.Open(procPath(pid, "fd"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var buf [8192]byte
	var nums []int
	for {
		n, err := unix.ReadDirent(fd, buf[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return nums
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, s := range names {
			if k, err := strconv.Atoi(s); err == nil && k >= from {
				nums = append(nums, k)
			}
		}
	}
}

// fdCloexec reports whether descriptor n of pid has O_CLOEXEC, from the
// "flags:" line (octal) of /proc/PID/fdinfo/N. That line comes second,
// after "pos:", so one read of the start of the file holds it.
func fdCloexec(pid, n int) bool {
	fd, err := unix.Open(procPath(pid, "fdinfo/"+itoa(n)), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var buf [256]byte
	k, err := readOnce(fd, buf[:])
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(buf[:k]), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && f&unix.O_CLOEXEC != 0
		}
	}
	return false
}

// pathMatches: an absolute argument must equal the link; a relative one
// must be its trailing path components.
func pathMatches(link, want string) bool {
	if filepath.IsAbs(want) {
		return link == want
	}
	if strings.HasPrefix(want, "..") {
		return false // cannot be matched by suffix
	}
	return strings.HasSuffix(link, "/"+want)
}

// openCanonical opens an absolute path only if it is already clean and
// symlink-free: the kernel's name for the opened file must be the path
// itself. A path through a symlink (or "..") could have named another
// file when the interpreter opened it, because whoever owns the link can
// re-point it after exec. O_NONBLOCK|O_NOCTTY here and in openProcFD: the
// path is the caller's choice and may name a FIFO or a terminal, which a
// daemon that is a session leader (as under systemd) would otherwise take
// as its controlling tty.
func openCanonical(path string) (int, string) {
	if filepath.Clean(path) != path {
		return -1, ""
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, ""
	}
	if link, err := readlink("/proc/self/fd/" + itoa(fd)); err != nil || link != path {
		unix.Close(fd)
		return -1, ""
	}
	return fd, path
}

// trustedScript: the file is on a trusted filesystem, and neither it nor
// its directory is group/other-writable or owned by a user other than
// the caller (owner) or root. When others can write the file or the
// directory the refusal names which (Identity.ScriptRefused); a file that
// cannot be checked, or is on an untrusted filesystem, gets none, and the
// interpreter stays the identity.
func (v *Verifier) trustedScript(fd int, link string, owner uint32) (bool, *Error) {
	var st, dst unix.Stat_t
	dir := filepath.Dir(link)
	if unix.Fstat(fd, &st) != nil || unix.Stat(dir, &dst) != nil || checkFilesystem(fd) != nil {
		return false, nil
	}
	if !safeOwnerMode(&st, owner) {
		return false, writableRefusal(link, link, false, st.Mode, st.Uid)
	}
	if !safeOwnerMode(&dst, owner) {
		return false, writableRefusal(link, dir, true, dst.Mode, dst.Uid)
	}
	return true, nil
}

func safeOwnerMode(st *unix.Stat_t, owner uint32) bool {
	return st.Mode&0o022 == 0 && (st.Uid == 0 || st.Uid == owner)
}

// naiveScriptArg is the weakened test mode: the first argument that names
// an existing file relative to the process's cwd, whatever precedes it.
func naiveScriptArg(t target, argv []string) (string, bool) {
	cwd, _ := readlinkProc(t.pid, "cwd")
	for _, a := range argv[min(1, len(argv)):] {
		p := a
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return a, true
		}
	}
	return "", false
}

// openScriptLegacy is the weakened test mode (Weakening.ScriptByCwd), the
// rule before relative paths needed the interpreter's own descriptor: any
// descriptor whose path ends in arg (255 and 10 first), else arg resolved against
// /proc/PID/cwd and symlinks followed.
func openScriptLegacy(t target, arg string) (int, string) {
	want := filepath.Clean(arg)
	d, err := os.Open(procPath(t.pid, "fd"))
	if err == nil {
		names, _ := d.Readdirnames(maxScanFDs)
		d.Close()
		for _, n := range append([]string{"255", "10"}, names...) {
			var st unix.Stat_t
			link, err := readlinkProc(t.pid, "fd/"+n)
			if err != nil || !pathMatches(link, want) || unix.Stat(procPath(t.pid, "fd/"+n), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			if fd, err := unix.Open(procPath(t.pid, "fd/"+n), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0); err == nil {
				return fd, link
			}
		}
	}
	path := arg
	if !filepath.IsAbs(arg) {
		cwd, err := readlinkProc(t.pid, "cwd")
		if err != nil || !filepath.IsAbs(cwd) {
			return -1, ""
		}
		path = filepath.Join(cwd, arg)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return -1, ""
	}
	fd, err := unix.Open(resolved, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, ""
	}
	return fd, resolved
}
