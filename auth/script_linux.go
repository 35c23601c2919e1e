package auth

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxScanFDs bounds the search of an interpreter's open descriptors.
const maxScanFDs = 64

// findScript returns the script an interpreter runs, or nil when the
// executable is not a known interpreter, argv does not name a script in a
// verifiable form, or the file fails a check (then the Identity stays the
// interpreter, which no script entry matches).
func (v *Verifier) findScript(t target, exePath string, argv []string) *Image {
	in := lookupInterpreter(baseName(exePath))
	if in == nil {
		return nil
	}
	arg, ok := in.scriptArg(argv)
	if v.opts.weak.NoScriptArgvCheck {
		arg, ok = naiveScriptArg(t, argv)
	}
	if !ok {
		return nil
	}
	fd, link := openScriptFD(t, arg)
	if fd < 0 {
		fd, link = openScriptCwd(t, arg)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if !v.opts.weak.NoScriptFileCheck && !v.trustedScript(fd, link) {
		return nil
	}
	img, err := v.imageOf(fd, link, ReasonImageDeleted)
	if err != nil {
		return nil
	}
	return &img
}

// openScriptFD looks for a descriptor of the interpreter that refers to a
// regular file at the argument's path (bash keeps the script on fd 255,
// dash on fd 10, perl on a low fd). This survives a `cd` in the script.
func openScriptFD(t target, arg string) (int, string) {
	want := filepath.Clean(arg)
	if !filepath.IsAbs(want) && strings.HasPrefix(want, "..") {
		return -1, "" // cannot be matched by suffix
	}
	try := func(n string) (int, string) {
		link, err := readlink(procPath(t.pid, "fd/"+n))
		var st unix.Stat_t
		if err != nil || !pathMatches(link, want) ||
			unix.Stat(procPath(t.pid, "fd/"+n), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return -1, ""
		}
		fd, err := unix.Open(procPath(t.pid, "fd/"+n), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return -1, ""
		}
		return fd, link
	}
	for _, n := range []string{"255", "10"} {
		if fd, link := try(n); fd >= 0 {
			return fd, link
		}
	}
	d, err := os.Open(procPath(t.pid, "fd"))
	if err != nil {
		return -1, ""
	}
	defer d.Close()
	names, _ := d.Readdirnames(maxScanFDs)
	for _, n := range names {
		if _, err := strconv.Atoi(n); err != nil || n == "255" || n == "10" {
			continue
		}
		if fd, link := try(n); fd >= 0 {
			return fd, link
		}
	}
	return -1, ""
}

// pathMatches: an absolute argument must equal the link; a relative one
// must be its trailing path components.
func pathMatches(link, want string) bool {
	if filepath.IsAbs(want) {
		return link == want
	}
	return strings.HasSuffix(link, "/"+want)
}

// openScriptCwd resolves the argument against the process's current
// directory (python, node and ruby close the script after reading it).
// A process that changed directory after exec defeats this for relative
// arguments; see the package documentation.
func openScriptCwd(t target, arg string) (int, string) {
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
	fd, err := unix.Open(resolved, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, ""
	}
	return fd, resolved
}

// trustedScript: the file is on a trusted filesystem, and neither it nor
// its directory is group/other-writable or owned by a user other than us
// or root.
func (v *Verifier) trustedScript(fd int, link string) bool {
	var st, dst unix.Stat_t
	if unix.Fstat(fd, &st) != nil || unix.Stat(filepath.Dir(link), &dst) != nil {
		return false
	}
	return checkFilesystem(fd) == nil && v.safeOwnerMode(&st) && v.safeOwnerMode(&dst)
}

func (v *Verifier) safeOwnerMode(st *unix.Stat_t) bool {
	return st.Mode&0o022 == 0 && (st.Uid == 0 || st.Uid == v.sys.euid)
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
