package auth

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// Identify reports who is behind the connection now: the pinned process
// must be alive, its image is opened (so it cannot be written while it is
// hashed) and hashed or found in the cache. Windows identifies executables
// only: keychain-auth's own CLI and interpreters are identified as
// themselves with ScriptRefused set (windowsScriptRule), so the policy
// refuses their item requests with that reason while STATUS and the admin
// messages still work (SECURITY.md).
func (p *Peer) Identify() (*Identity, error) {
	if err := p.alive(); err != nil {
		return nil, err
	}
	exe, err := p.v.processImage(p.sys.proc, p.sys.created)
	if err != nil {
		if aerr := p.alive(); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	id := &Identity{PID: p.pid, Exe: exe, CommandLine: []string{exe.Path}}
	p.v.windowsScriptRule(id)
	if err := p.alive(); err != nil {
		return nil, err
	}
	return id, nil
}

// processImage opens the file at the process's image path with sharing
// that admits readers only, checks that it is the file the process started
// from, and hashes it.
func (v *Verifier) processImage(proc windows.Handle, created time.Time) (Image, error) {
	path, err := imagePath(proc)
	if err != nil {
		return Image{}, refuse(ReasonIdentityUnavailable, "image path: %v", err)
	}
	if isRemotePath(path) && !v.opts.weak.NoFilesystemCheck {
		return Image{}, refuse(ReasonUntrustedFilesystem, "%s", path)
	}
	h, err := openImage(path)
	if err != nil {
		return Image{}, refuse(ReasonImagePathMismatch, "open %s: %v", path, err)
	}
	f := os.NewFile(uintptr(h), path)
	defer f.Close()
	key, changed, err := fileVersion(h)
	if err != nil {
		return Image{}, refuse(ReasonIdentityUnavailable, "%s: %v", path, err)
	}
	if changed.After(created) && !v.opts.weak.NoImageChecks {
		return Image{}, refuse(ReasonImagePathMismatch, "%s changed after the process started", path)
	}
	hash, err := v.hashFile(f, h, key)
	if err != nil {
		return Image{}, err
	}
	return Image{Path: path, Hash: hash}, nil
}

// hashFile hashes the opened file unless this version is in the cache.
func (v *Verifier) hashFile(f *os.File, h windows.Handle, key fileKey) (string, error) {
	if hash, ok := v.cache.get(key); ok {
		return hash, nil
	}
	v.cache.countHash()
	hash, err := hashReader(f)
	if err != nil {
		return "", refuse(ReasonIdentityUnavailable, "hash image: %v", err)
	}
	if after, _, err := fileVersion(h); err != nil || after != key {
		return "", refuse(ReasonIdentityUnavailable, "image changed while hashed")
	}
	v.cache.put(key, hash)
	return hash, nil
}

// openImage opens path for reading with sharing that admits other readers
// only: while the handle is open nobody can open the file for writing or
// deletion, and a file someone holds open for writing cannot be opened.
func openImage(path string) (windows.Handle, error) {
	p16, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	return windows.CreateFile(p16, windows.GENERIC_READ, windows.FILE_SHARE_READ, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
}

func imagePath(proc windows.Handle) (string, error) {
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(proc, 0, &buf[0], &n); err != nil {
		return "", err
	}
	return windows.UTF16ToString(buf[:n]), nil
}

// isRemotePath: a UNC path or a drive letter mapped to a network share,
// where the server can hand the daemon other bytes than the loader got.
func isRemotePath(path string) bool {
	if strings.HasPrefix(path, `\\`) {
		return true
	}
	if len(path) < 3 || path[1] != ':' {
		return false
	}
	root, _ := windows.UTF16PtrFromString(path[:3])
	return windows.GetDriveType(root) == windows.DRIVE_REMOTE
}
