// token.go's decisions are macOS's (its glue is darwin-only); they are
// tested on Linux through a fake, with Unix paths that are not absolute on
// Windows.

//go:build !windows

package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// These tests drive the macOS verifier's decisions (token.go) on any OS
// through fakeMac, a fake of the darwin glue. Every step that fails or
// answers something unexpected must refuse with its own reason; a call
// that is unavailable must never let a peer through.

const macUID = 501

var macStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeMac answers like a Mac on which pid 4242 (uid 501) runs
// /usr/local/bin/tool, a regular file on a local APFS volume that has not
// changed since the process started. Fields override single answers.
type fakeMac struct {
	uid    uint32
	token  auditToken
	path   string
	proc   macProc
	file   macFile
	body   []byte
	uidErr error

	// tokenErr and changed apply from the nth peerToken call on (1-based:
	// Accept, a chunk read, Identify before the lookups, Identify after).
	tokenErrFrom int
	tokenErr     error
	changedFrom  int
	changed      auditToken

	procErr, pathErr, openErr, factsErr, readErr error
	movedTo                                      string // the second imagePath answer
	pathAgainErr                                 error
	factsAfter                                   *macFile // facts after hashing

	// failCall makes the nth glue call of any kind (1-based) fail as
	// unavailable; calls counts them.
	failCall int
	calls    int

	tokenCalls, pathCalls, factsCalls int
}

func newFakeMac() *fakeMac {
	body := []byte("\xcf\xfa\xed\xfe a Mach-O image, as far as the daemon cares")
	return &fakeMac{
		uid:   macUID,
		token: auditToken{EUID: macUID, PID: 4242, PIDVersion: 7},
		path:  "/usr/local/bin/tool",
		proc:  macProc{Started: macStart},
		file: macFile{
			Key:     fileKey{dev: 16777233, ino: 99, size: uint64(len(body)), mtimeSec: 1, ctimeSec: 2},
			Regular: true, Nlink: 1, Changed: macStart.Add(-time.Hour),
			Local: true, FSType: "apfs",
		},
		body: body,
	}
}

var errFakeUnavailable = errors.New("fake: call unavailable")

// call counts a glue call and fails it when it is the chosen one.
func (f *fakeMac) call() error {
	f.calls++
	if f.calls == f.failCall {
		return errFakeUnavailable
	}
	return nil
}

func (f *fakeMac) peerUID() (uint32, error) {
	if err := f.call(); err != nil {
		return 0, err
	}
	return f.uid, f.uidErr
}

func (f *fakeMac) peerToken() (auditToken, error) {
	f.tokenCalls++
	if err := f.call(); err != nil {
		return auditToken{}, err
	}
	if f.tokenErrFrom > 0 && f.tokenCalls >= f.tokenErrFrom {
		return auditToken{}, f.tokenErr
	}
	if f.changedFrom > 0 && f.tokenCalls >= f.changedFrom {
		return f.changed, nil
	}
	return f.token, nil
}

func (f *fakeMac) imagePath(pid int) (string, error) {
	f.pathCalls++
	if err := f.call(); err != nil {
		return "", err
	}
	if pid != f.token.PID {
		return "", fmt.Errorf("fake: asked for pid %d", pid)
	}
	if f.pathCalls > 1 {
		if f.pathAgainErr != nil {
			return "", f.pathAgainErr
		}
		if f.movedTo != "" {
			return f.movedTo, nil
		}
	}
	return f.path, f.pathErr
}

func (f *fakeMac) procInfo(pid int) (macProc, error) {
	if err := f.call(); err != nil {
		return macProc{}, err
	}
	return f.proc, f.procErr
}

func (f *fakeMac) openImage(path string) (macImage, error) {
	if err := f.call(); err != nil {
		return nil, err
	}
	if f.openErr != nil {
		return nil, f.openErr
	}
	return &fakeImage{f: f, r: bytes.NewReader(f.body)}, nil
}

type fakeImage struct {
	f *fakeMac
	r io.Reader
}

func (i *fakeImage) Read(b []byte) (int, error) {
	if err := i.f.call(); err != nil {
		return 0, err
	}
	if i.f.readErr != nil {
		return 0, i.f.readErr
	}
	return i.r.Read(b)
}

func (i *fakeImage) facts() (macFile, error) {
	i.f.factsCalls++
	if err := i.f.call(); err != nil {
		return macFile{}, err
	}
	if i.f.factsCalls > 1 && i.f.factsAfter != nil {
		return *i.f.factsAfter, nil
	}
	return i.f.file, i.f.factsErr
}

func (i *fakeImage) Close() error { return nil }

func newMacVerifier(opts Options) *Verifier {
	return &Verifier{opts: opts, cache: newHashCache(8)}
}

// runMac is one connection: Accept, one chunk read, one Identify.
func runMac(v *Verifier, f *fakeMac) (*Identity, error) {
	t, err := v.acceptToken(f, macUID)
	if err != nil {
		return nil, err
	}
	if e := t.sameProcess(v); e != nil {
		return nil, e
	}
	return v.identifyToken(t, f)
}

func macReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return fmt.Sprintf("not an *Error: %v", err)
}

func TestMacIdentifies(t *testing.T) {
	v := newMacVerifier(Options{})
	f := newFakeMac()
	id, err := runMac(v, f)
	if err != nil {
		t.Fatalf("identify: %v", err)
	}
	want, _ := hashReader(bytes.NewReader(f.body))
	if id.PID != 4242 || id.UID != macUID || id.Exe.Path != "/usr/local/bin/tool" || id.Exe.Hash != want {
		t.Errorf("identity = %+v, want pid 4242 uid %d %s %s", id, macUID, f.path, want)
	}
	if id.Script != nil || id.ScriptRefused != nil || id.TracerPID != 0 || id.Courier != nil {
		t.Errorf("identity = %+v, want a plain executable", id)
	}
	if f.tokenCalls != 4 {
		t.Errorf("LOCAL_PEERTOKEN read %d times, want 4 (accept, chunk, before and after the lookups)", f.tokenCalls)
	}
	// The same file version is not hashed twice.
	if _, err := runMac(v, newFakeMac()); err != nil {
		t.Fatalf("second identify: %v", err)
	}
	if v.cache.hashes != 1 {
		t.Errorf("hashed %d times, want 1 (cache by file identity)", v.cache.hashes)
	}
	// A new version of the file is.
	g := newFakeMac()
	g.file.Key.ctimeNsec = 5
	if _, err := runMac(v, g); err != nil {
		t.Fatalf("third identify: %v", err)
	}
	if v.cache.hashes != 2 {
		t.Errorf("hashed %d times, want 2 after the file changed", v.cache.hashes)
	}
}

// TestMacRefusesEveryFailingStep shows each step of the macOS verifier
// refusing with its specific reason.
func TestMacRefusesEveryFailingStep(t *testing.T) {
	gone := fmt.Errorf("%w: fake ESRCH", errProcessGone)
	other := auditToken{EUID: macUID, PID: 5151, PIDVersion: 3}
	execd := auditToken{EUID: macUID, PID: 4242, PIDVersion: 8}
	cases := []struct {
		name  string
		setup func(f *fakeMac)
		want  string
	}{
		// Accept
		{"LOCAL_PEERCRED fails", func(f *fakeMac) { f.uidErr = errors.ErrUnsupported }, ReasonIdentityUnavailable},
		{"LOCAL_PEERCRED peer gone", func(f *fakeMac) { f.uidErr = gone }, ReasonPeerExited},
		{"peer of another uid", func(f *fakeMac) { f.uid = 502; f.token.EUID = 502 }, ReasonUIDMismatch},
		{"LOCAL_PEERTOKEN fails at accept", func(f *fakeMac) { f.tokenErrFrom, f.tokenErr = 1, errors.ErrUnsupported }, ReasonIdentityUnavailable},
		{"connector gone at accept", func(f *fakeMac) { f.tokenErrFrom, f.tokenErr = 1, gone }, ReasonPeerExited},
		{"token names no pid", func(f *fakeMac) { f.token.PID = 0 }, ReasonIdentityUnavailable},
		{"token of another user than LOCAL_PEERCRED", func(f *fakeMac) { f.token.EUID = 0 }, ReasonSenderNotConnector},
		// A chunk read
		{"chunk from a process that took the connection", func(f *fakeMac) { f.changedFrom, f.changed = 2, other }, ReasonSenderNotConnector},
		{"chunk after the connector exec'ed", func(f *fakeMac) { f.changedFrom, f.changed = 2, execd }, ReasonExecAfterConnect},
		{"connector changed euid", func(f *fakeMac) { f.changedFrom, f.changed = 2, auditToken{EUID: 0, PID: 4242, PIDVersion: 7} }, ReasonUIDMismatch},
		{"LOCAL_PEERTOKEN fails at a chunk", func(f *fakeMac) { f.tokenErrFrom, f.tokenErr = 2, errors.ErrUnsupported }, ReasonIdentityUnavailable},
		{"connector gone after writing", func(f *fakeMac) { f.tokenErrFrom, f.tokenErr = 2, gone }, ReasonPeerExited},
		// Identify, before the lookups by pid
		{"another process before the lookups", func(f *fakeMac) { f.changedFrom, f.changed = 3, other }, ReasonSenderNotConnector},
		{"exec before the lookups", func(f *fakeMac) { f.changedFrom, f.changed = 3, execd }, ReasonExecAfterConnect},
		{"kern.proc.pid fails", func(f *fakeMac) { f.procErr = errors.ErrUnsupported }, ReasonIdentityUnavailable},
		{"kern.proc.pid: process gone", func(f *fakeMac) { f.procErr = gone }, ReasonPeerExited},
		{"proc_pidpath fails", func(f *fakeMac) { f.pathErr = errors.ErrUnsupported }, ReasonIdentityUnavailable},
		{"proc_pidpath: process gone", func(f *fakeMac) { f.pathErr = gone }, ReasonPeerExited},
		{"proc_pidpath fails because the pid was reused", func(f *fakeMac) {
			f.pathErr = errors.ErrUnsupported
			f.changedFrom, f.changed = 4, other
		}, ReasonSenderNotConnector},
		{"relative kernel path", func(f *fakeMac) { f.path = "bin/tool" }, ReasonIdentityUnavailable},
		{"unclean kernel path", func(f *fakeMac) { f.path = "/usr/local/bin/../bin/tool" }, ReasonIdentityUnavailable},
		{"empty kernel path", func(f *fakeMac) { f.path = "" }, ReasonIdentityUnavailable},
		// The image
		{"image gone from its path", func(f *fakeMac) { f.openErr = fmt.Errorf("%w: fake ENOENT", errNoSuchFile) }, ReasonImageDeleted},
		{"image path through a symlink (ELOOP)", func(f *fakeMac) { f.openErr = errors.New("fake ELOOP") }, ReasonImagePathMismatch},
		{"fstat fails", func(f *fakeMac) { f.factsErr = errors.ErrUnsupported }, ReasonIdentityUnavailable},
		{"image on a network mount", func(f *fakeMac) { f.file.Local, f.file.FSType = false, "smbfs" }, ReasonUntrustedFilesystem},
		{"image on macFUSE that says it is local", func(f *fakeMac) { f.file.FSType = "macfuse" }, ReasonUntrustedFilesystem},
		{"image not a regular file", func(f *fakeMac) { f.file.Regular = false }, ReasonIdentityUnavailable},
		{"image unlinked", func(f *fakeMac) { f.file.Nlink = 0 }, ReasonImageDeleted},
		{"image replaced after the process started", func(f *fakeMac) { f.file.Changed = macStart.Add(time.Second) }, ReasonImagePathMismatch},
		{"no start time", func(f *fakeMac) { f.proc.Started = time.Time{} }, ReasonImagePathMismatch},
		{"read of the image fails", func(f *fakeMac) { f.readErr = errors.New("fake EIO") }, ReasonIdentityUnavailable},
		{"image changed while hashed", func(f *fakeMac) {
			after := f.file
			after.Key.mtimeNsec = 1
			f.factsAfter = &after
		}, ReasonIdentityUnavailable},
		{"image moved while hashed", func(f *fakeMac) { f.movedTo = "/tmp/tool" }, ReasonImagePathMismatch},
		{"proc_pidpath fails the second time", func(f *fakeMac) { f.pathAgainErr = errors.ErrUnsupported }, ReasonIdentityUnavailable},
		// Identify, after the lookups
		{"exec while the image was hashed", func(f *fakeMac) { f.changedFrom, f.changed = 4, execd }, ReasonExecAfterConnect},
		{"another process after the lookups", func(f *fakeMac) { f.changedFrom, f.changed = 4, other }, ReasonSenderNotConnector},
		{"connector gone after the lookups", func(f *fakeMac) { f.tokenErrFrom, f.tokenErr = 4, gone }, ReasonPeerExited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeMac()
			c.setup(f)
			id, err := runMac(newMacVerifier(Options{}), f)
			if err == nil {
				t.Fatalf("accepted as %+v, want refused %s", id, c.want)
			}
			if got := macReason(err); got != c.want {
				t.Errorf("reason = %s (%v), want %s", got, err, c.want)
			}
		})
	}
}

// TestMacUnavailableCallNeverAccepts fails each glue call of a good
// connection in turn, as if the system did not offer it: every one must
// end in a refusal.
func TestMacUnavailableCallNeverAccepts(t *testing.T) {
	f := newFakeMac()
	if _, err := runMac(newMacVerifier(Options{}), f); err != nil {
		t.Fatalf("good connection refused: %v", err)
	}
	total := f.calls
	if total < 8 {
		t.Fatalf("a good connection made %d glue calls, want at least 8", total)
	}
	for n := 1; n <= total; n++ {
		g := newFakeMac()
		g.failCall = n
		id, err := runMac(newMacVerifier(Options{}), g)
		if err == nil {
			t.Errorf("call %d of %d unavailable: accepted as %+v", n, total, id)
			continue
		}
		if r := macReason(err); r != ReasonIdentityUnavailable && r != ReasonImagePathMismatch {
			t.Errorf("call %d of %d unavailable: reason %s (%v)", n, total, r, err)
		}
	}
}

// TestMacRefusalsSticks: once a chunk was refused, the connection stays
// refused even when the token looks right again.
func TestMacRefusalSticks(t *testing.T) {
	v := newMacVerifier(Options{})
	f := newFakeMac()
	tp, err := v.acceptToken(f, macUID)
	if err != nil {
		t.Fatal(err)
	}
	f.changedFrom, f.changed = 2, auditToken{EUID: macUID, PID: 5151, PIDVersion: 1}
	if e := tp.sameProcess(v); e == nil || e.Reason != ReasonSenderNotConnector {
		t.Fatalf("foreign chunk: %v, want %s", e, ReasonSenderNotConnector)
	}
	f.changedFrom = 0
	if _, err := v.identifyToken(tp, f); macReason(err) != ReasonSenderNotConnector {
		t.Errorf("identify after a refused chunk: %v, want %s", err, ReasonSenderNotConnector)
	}
}

// TestMacCanaries: the attacks the token stops succeed against a verifier
// with that check off, so the refusals above are the checks' doing.
func TestMacCanaries(t *testing.T) {
	cases := []struct {
		name  string
		weak  weakening
		setup func(f *fakeMac)
		want  string
	}{
		{"handed-over connection", weakening{NoSenderCheck: true}, func(f *fakeMac) {
			f.changedFrom, f.changed = 2, auditToken{EUID: macUID, PID: 5151, PIDVersion: 3}
		}, ReasonSenderNotConnector},
		{"exec after connect", weakening{NoExecCheck: true}, func(f *fakeMac) {
			f.changedFrom, f.changed = 2, auditToken{EUID: macUID, PID: 4242, PIDVersion: 8}
		}, ReasonExecAfterConnect},
		{"image replaced after start", weakening{NoImageChecks: true}, func(f *fakeMac) {
			f.file.Changed = macStart.Add(time.Second)
		}, ReasonImagePathMismatch},
		{"image on FUSE", weakening{NoFilesystemCheck: true}, func(f *fakeMac) { f.file.FSType = "macfuse" }, ReasonUntrustedFilesystem},
		{"peer of another uid", weakening{NoUIDCheck: true}, func(f *fakeMac) { f.uid = 502; f.token.EUID = 502 }, ReasonUIDMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeMac()
			c.setup(f)
			if _, err := runMac(newMacVerifier(Options{weak: c.weak}), f); err != nil {
				t.Fatalf("canary: weakened verifier refused (%v); the attack is not modelled", err)
			}
			g := newFakeMac()
			c.setup(g)
			if _, err := runMac(newMacVerifier(Options{}), g); macReason(err) != c.want {
				t.Errorf("real verifier: %v, want %s", err, c.want)
			}
		})
	}
}

// TestMacScriptsAndCourier: on macOS an interpreter is refused as a script
// identity (script_unverifiable) and keychain-auth's CLI as a courier
// (courier_unverifiable); both are policy answers, not connection refusals.
func TestMacScriptsAndCourier(t *testing.T) {
	f := newFakeMac()
	self, _ := hashReader(bytes.NewReader(f.body))
	id, err := runMac(newMacVerifier(Options{SelfHash: self}), f)
	if err != nil {
		t.Fatalf("courier refused at connection: %v", err)
	}
	if id.ScriptRefused == nil || id.ScriptRefused.Reason != ReasonCourierUnverifiable || id.Courier != nil {
		t.Errorf("keychain-auth's CLI: ScriptRefused %v, Courier %v; want %s and no courier", id.ScriptRefused, id.Courier, ReasonCourierUnverifiable)
	}
	for _, interp := range []string{"/bin/bash", "/bin/zsh", "/usr/bin/python3", "/opt/homebrew/bin/python3.12", "/opt/homebrew/bin/node"} {
		g := newFakeMac()
		g.path = interp
		id, err := runMac(newMacVerifier(Options{SelfHash: "sha256:other"}), g)
		if err != nil {
			t.Fatalf("%s refused at connection: %v", interp, err)
		}
		if id.ScriptRefused == nil || id.ScriptRefused.Reason != ReasonScriptUnverifiable || id.Script != nil {
			t.Errorf("%s: ScriptRefused %v, Script %v; want %s", interp, id.ScriptRefused, id.Script, ReasonScriptUnverifiable)
		}
	}
	g := newFakeMac()
	g.proc.Traced = true
	id, err = runMac(newMacVerifier(Options{}), g)
	if err != nil {
		t.Fatal(err)
	}
	if id.TracerPID == 0 {
		t.Errorf("traced process: TracerPID 0, want non-zero so the policy refuses traced_process")
	}
}

func TestMacTokenFromWords(t *testing.T) {
	// auid, euid, egid, ruid, rgid, pid, asid, pid version
	got := tokenFromWords([8]uint32{501, 502, 20, 501, 20, 4242, 100004, 9})
	want := auditToken{EUID: 502, PID: 4242, PIDVersion: 9}
	if got != want {
		t.Errorf("tokenFromWords = %+v, want %+v", got, want)
	}
	if neg := tokenFromWords([8]uint32{5: 0xffffffff}); neg.PID != -1 {
		t.Errorf("pid word 0xffffffff = %d, want -1 (refused as no pid)", neg.PID)
	}
}
