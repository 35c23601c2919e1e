//go:build linux

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The reference clients in system mode. Their system layout is a constant
// in each file (no argument, no environment variable: either would let a
// program running as the user move it and turn the check off), so these
// tests rewrite that constant in a copy of the file and build a layout of
// their own under a temporary directory: a root-owned etc/keychain-auth, a
// run directory of a stand-in service user, and listening sockets served
// by a small fake daemon (sysListener) that records whether anything
// arrived and, while a client waits for its answer, reads the client's
// core-dump limit and dumpability from /proc. The clients run as nobody.

const (
	sysClientUID = 65534 // the user running the client (nobody)
	sysOtherUID  = 4242  // a uid that is neither root, the service user nor the client
)

// sysPeerValue is the value the fake daemon answers every read with.
const sysPeerValue = "kca-sys-value-7Qp"

// sysListenerPy is the fake daemon: it binds PATH, prints "ready", then per
// connection one JSON line: the peer's pid, how many bytes arrived before
// the first newline or EOF, and (when a line arrived, before answering it)
// the client's core-dump limit and the owner of /proc/PID/mem, which is
// root when the client is non-dumpable.
const sysListenerPy = `import json, os, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o666)
s.listen(16)
print(json.dumps({"ready": True}), flush=True)
while True:
    c, _ = s.accept()
    pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
    ev = {"conn": pid, "bytes": 0}
    c.settimeout(10)
    buf = b""
    try:
        while b"\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    ev["bytes"] = len(buf)
    if b"\n" in buf:
        try:
            with open("/proc/%d/limits" % pid) as f:
                ev["core"] = [l for l in f if l.startswith("Max core file size")][0].split()[4:6]
            ev["proc_owner"] = os.stat("/proc/%d/mem" % pid).st_uid
        except (OSError, IndexError) as err:
            ev["proc_error"] = str(err)
        c.sendall(json.dumps({"type": "RESPONSE", "status": "success",
                              "results": [{"target": "k", "value": sys.argv[2]}]}).encode() + b"\n")
    print(json.dumps(ev), flush=True)
    c.close()
`

// sysDrivePy and sysDriveJS connect with no argument (endpoint choice is
// the client's), read svc/k, and print what happened as one JSON line.
const sysDrivePy = `import ctypes, json, resource, sys
sys.path.insert(0, sys.argv[1])
import keychain_auth as k
out = {}
try:
    with k.Client() as c:
        out["value"] = c.read("svc", "k")
except k.KeychainAuthError as e:
    out.update(error=type(e).__name__, reason=e.reason, message=str(e))
out["core"] = [str(v) for v in resource.getrlimit(resource.RLIMIT_CORE)]
out["dumpable"] = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)
print(json.dumps(out))
`

const sysDriveJS = `const k = require(process.argv[1]);
const out = {};
k.Client.connect()
  .then(async (c) => { try { out.value = await c.read('svc', 'k'); } finally { c.close(); } })
  .catch((e) => Object.assign(out, { error: e.name, code: e.code, reason: e.reason, message: e.message }))
  .finally(() => {
    const lim = k.coreDumpLimit();
    out.core = lim && [String(lim.soft), String(lim.hard)];
    console.log(JSON.stringify(out));
  });
`

// sysOutcome is what a driver printed.
type sysOutcome struct {
	Value    *string  `json:"value"`
	Error    string   `json:"error"`
	Reason   string   `json:"reason"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Core     []string `json:"core"`
	Dumpable *int     `json:"dumpable"`
	raw      string
}

// sysEvent is one connection the fake daemon saw.
type sysEvent struct {
	Ready     bool     `json:"ready"`
	Conn      int      `json:"conn"`
	Bytes     int      `json:"bytes"`
	Core      []string `json:"core"`
	ProcOwner *int     `json:"proc_owner"`
	ProcError string   `json:"proc_error"`
}

// sysFixture is a scratch area every test uid can traverse.
type sysFixture struct {
	t      *testing.T
	base   string
	svc    string // the stand-in service user's name
	svcUID uint32
	n      int
}

func newSysFixture(t *testing.T) *sysFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("system mode fixtures need root (root- and service-owned directories, clients run as nobody)")
	}
	if sysInterp("python3") == "" {
		t.Skip("no python3 in /usr/local/bin, /usr/bin or /bin: the fake daemon is a python script")
	}
	// A stand-in for the keychain-auth service user: an existing system
	// account, so the machine's user database is not touched.
	var svc *user.User
	for _, name := range []string{"daemon", "bin", "sys"} {
		if u, err := user.Lookup(name); err == nil && u.Uid != "0" && u.Uid != strconv.Itoa(sysClientUID) {
			svc = u
			break
		}
	}
	if svc == nil {
		t.Skip("no system account (daemon, bin, sys) to stand in for the service user")
	}
	uid, _ := strconv.ParseUint(svc.Uid, 10, 32)
	base, err := os.MkdirTemp("", "kca-sysmode-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	f := &sysFixture{t: t, base: base, svc: svc.Username, svcUID: uint32(uid)}
	f.dir("", 0, 0o755)
	f.dir("clients", 0, 0o755)
	return f
}

// dir makes base/rel with owner and mode (chmod after mkdir: no umask).
func (f *sysFixture) dir(rel string, owner uint32, mode os.FileMode) string {
	f.t.Helper()
	p := filepath.Join(f.base, rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chown(p, int(owner), int(owner)); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// layout installs system mode under base/prefix: etc/keychain-auth owned by
// root, run/keychain-auth owned by the service user, both 0755. It returns
// the prefix.
func (f *sysFixture) layout(prefix string) string {
	f.t.Helper()
	for _, d := range []string{prefix, prefix + "/etc", prefix + "/etc/keychain-auth", prefix + "/run"} {
		f.dir(d, 0, 0o755)
	}
	f.dir(prefix+"/run/keychain-auth", f.svcUID, 0o755)
	return filepath.Join(f.base, prefix)
}

// clientCopy copies a reference client into base/clients/NAME with its
// system prefix and service user rewritten, and returns its path.
func (f *sysFixture) clientCopy(lang, name, prefix string) string {
	f.t.Helper()
	var src string
	var edits [][2]string
	switch lang {
	case "python":
		src = "clients/python/keychain_auth.py"
		edits = [][2]string{
			{`_SYSTEM_PREFIX = ""`, `_SYSTEM_PREFIX = ` + strconv.Quote(prefix)},
			{`_SERVICE_USER = "keychain-auth"`, `_SERVICE_USER = ` + strconv.Quote(f.svc)},
		}
	case "node":
		src = "clients/node/keychain-auth.js"
		edits = [][2]string{
			{`const SYSTEM_PREFIX = '';`, `const SYSTEM_PREFIX = ` + strconv.Quote(prefix) + `;`},
			{`const SERVICE_USER = 'keychain-auth';`, `const SERVICE_USER = ` + strconv.Quote(f.svc) + `;`},
		}
	}
	b, err := os.ReadFile(repoFile(f.t, src))
	if err != nil {
		f.t.Fatal(err)
	}
	text := string(b)
	for _, e := range edits {
		if strings.Count(text, e[0]) != 1 {
			f.t.Fatalf("%s: expected exactly one %q to rewrite for the test layout", src, e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	dir := f.dir(filepath.Join("clients", name), 0, 0o755)
	file := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return file
}

// drive runs the driver for a client copy as uid with KEYCHAIN_AUTH_SOCKET
// set to override (when not empty) and returns its outcome.
func (f *sysFixture) drive(lang, client string, uid uint32, override string) sysOutcome {
	f.t.Helper()
	var interp string
	var args []string
	switch lang {
	case "python":
		interp = sysInterp("python3")
		args = []string{"-c", sysDrivePy, filepath.Dir(client)}
	case "node":
		interp = sysInterp("node")
		args = []string{"-e", sysDriveJS, client}
	}
	var extra []string
	if override != "" {
		extra = append(extra, "KEYCHAIN_AUTH_SOCKET="+override)
	}
	r := f.runAs(uid, extra, interp, args...)
	var out sysOutcome
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &out); err != nil {
		f.t.Fatalf("%s driver as uid %d: exit %d, stdout %q, stderr %q", lang, uid, r.code, r.stdout, r.stderr)
	}
	out.raw = r.stdout
	return out
}

// runAs runs a program as uid (gid the same) in base with a small
// environment plus extra.
func (f *sysFixture) runAs(uid uint32, extra []string, name string, args ...string) result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = f.base
	cmd.Env = append([]string{
		"HOME=" + f.base, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C",
		"XDG_RUNTIME_DIR=" + filepath.Join(f.base, "no-runtime"), "PYTHONDONTWRITEBYTECODE=1",
	}, extra...)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		f.t.Fatalf("run %s: %v", name, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// sysListener is a running fake daemon.
type sysListener struct {
	t      *testing.T
	path   string
	events chan sysEvent
}

// listen starts the fake daemon as uid, binds it in a scratch directory of
// that uid, then moves the socket to base/rel/agent.sock (which must exist)
// and gives it owner sockOwner: a socket served by one uid and owned by
// another, as a case needs.
func (f *sysFixture) listen(rel string, uid, sockOwner uint32) *sysListener {
	f.t.Helper()
	f.n++
	bindDir := f.dir(fmt.Sprintf("bind-%d", f.n), uid, 0o700)
	bound := filepath.Join(bindDir, "agent.sock")
	cmd := exec.Command(sysInterp("python3"), "-c", sysListenerPy, bound, sysPeerValue)
	cmd.Dir = f.base
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	l := &sysListener{t: f.t, path: filepath.Join(f.base, rel, "agent.sock"), events: make(chan sysEvent, 64)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev sysEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if ev.Ready {
				close(ready)
				continue
			}
			l.events <- ev
		}
		close(l.events)
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		f.t.Fatalf("fake daemon not ready: %s", logs.String())
	}
	if err := os.Rename(bound, l.path); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Lchown(l.path, int(sockOwner), int(sockOwner)); err != nil {
		f.t.Fatal(err)
	}
	return l
}

// seen returns the connections the fake daemon handled since the last
// call. It connects itself and sends a probe line; the daemon handles
// connections one at a time, so every earlier connection is reported
// before the probe's.
func (l *sysListener) seen() []sysEvent {
	l.t.Helper()
	c, err := net.DialTimeout("unix", l.path, 5*time.Second)
	if err != nil {
		l.t.Fatalf("probe %s: %v", l.path, err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("probe\n")); err != nil {
		l.t.Fatal(err)
	}
	_, _ = bufio.NewReader(c).ReadString('\n')
	c.Close()
	var evs []sysEvent
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-l.events:
			if !ok {
				l.t.Fatal("fake daemon exited")
			}
			if ev.Conn == os.Getpid() {
				return evs
			}
			evs = append(evs, ev)
		case <-timeout:
			l.t.Fatal("the probe was not reported within 10s")
		}
	}
}

// sentBytes is how many request bytes reached the fake daemon over evs.
func sentBytes(evs []sysEvent) int {
	n := 0
	for _, ev := range evs {
		n += ev.Bytes
	}
	return n
}

// sysInterp finds an interpreter every uid can run (not, say, a version
// manager's shim under root's home): in /usr/local/bin, /usr/bin or /bin.
func sysInterp(name string) string {
	for _, dir := range []string{"/usr/local/bin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o001 != 0 {
			return p
		}
	}
	return ""
}

func sysLangs(t *testing.T) []string {
	var langs []string
	for _, l := range []struct{ lang, interp string }{{"python", "python3"}, {"node", "node"}} {
		if sysInterp(l.interp) == "" {
			t.Logf("no %s that other uids can run in /usr/local/bin, /usr/bin or /bin: its client is not tested here", l.interp)
			continue
		}
		langs = append(langs, l.lang)
	}
	return langs
}

// TestClientsSystemModeEndpoint: with system mode installed, both clients
// use the system socket by default and talk to a daemon served from a
// directory of root or the service user; every endpoint that fails the
// system check (a KEYCHAIN_AUTH_SOCKET planted by a program of the user
// included) is refused with untrusted_endpoint, and nothing reaches it.
// Each refusal has its canary: the same endpoint, asked by a copy of the
// client for which system mode is not installed (user mode: the peer must
// be our own uid) run as the uid that serves it, gets the request.
func TestClientsSystemModeEndpoint(t *testing.T) {
	f := newSysFixture(t)
	prefix := f.layout("sys")
	sysDaemon := f.listen("sys/run/keychain-auth", 0, f.svcUID)

	userMode := f.clientCopy("python", "user-mode", filepath.Join(f.base, "not-installed"))
	canary := func(t *testing.T, l *sysListener, uid uint32) {
		t.Helper()
		out := f.drive("python", userMode, uid, l.path)
		if out.Value == nil || *out.Value != sysPeerValue {
			t.Fatalf("canary: a user-mode client as uid %d did not get the value from %s: %s", uid, l.path, out.raw)
		}
		if n := sentBytes(l.seen()); n == 0 {
			t.Fatalf("canary: the fake daemon at %s received nothing", l.path)
		}
	}

	// Endpoints that fail the system check, each served by root unless
	// listed: the directory's owner and mode, the socket's owner, who
	// serves it.
	f.dir("user-run", sysClientUID, 0o700)
	planted := f.listen("user-run", sysClientUID, sysClientUID)
	f.dir("world-run", 0, 0o777)
	world := f.listen("world-run", 0, 0)
	f.dir("group-run", 0, 0o775)
	group := f.listen("group-run", 0, 0)
	f.dir("other-run", sysOtherUID, 0o755)
	otherDir := f.listen("other-run", 0, 0)
	f.dir("other-sock", 0, 0o755)
	otherSock := f.listen("other-sock", 0, sysOtherUID)
	// A symlink to the good directory, and one to the good socket.
	f.dir("links", 0, 0o755)
	if err := os.Symlink(filepath.Join(prefix, "run", "keychain-auth"), filepath.Join(f.base, "links", "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sysDaemon.path, filepath.Join(f.base, "links", "agent.sock")); err != nil {
		t.Fatal(err)
	}
	// Root-owned directory and socket: trusted as well as the service user's.
	f.dir("root-run", 0, 0o755)
	rootRun := f.listen("root-run", 0, 0)

	for _, lang := range sysLangs(t) {
		t.Run(lang, func(t *testing.T) {
			client := f.clientCopy(lang, lang+"-system", prefix)

			t.Run("system socket by default", func(t *testing.T) {
				out := f.drive(lang, client, sysClientUID, "")
				if out.Value == nil || *out.Value != sysPeerValue {
					t.Fatalf("read through the system socket: %s", out.raw)
				}
				if n := sentBytes(sysDaemon.seen()); n == 0 {
					t.Fatal("the system daemon received nothing")
				}
			})
			t.Run("root-owned endpoint", func(t *testing.T) {
				out := f.drive(lang, client, sysClientUID, rootRun.path)
				if out.Value == nil || *out.Value != sysPeerValue {
					t.Fatalf("read through a root-owned endpoint: %s", out.raw)
				}
				rootRun.seen()
			})

			for _, c := range []struct {
				name      string
				l         *sysListener
				override  string
				canaryUID uint32
				problem   string
			}{
				{"planted override in the user's own directory", planted, planted.path, sysClientUID, "owned by uid 65534"},
				{"directory writable by others", world, world.path, 0, "writable by group or others (mode 0777)"},
				{"directory writable by group", group, group.path, 0, "writable by group or others (mode 0775)"},
				{"directory owned by another uid", otherDir, otherDir.path, 0, "owned by uid 4242"},
				{"socket owned by another uid", otherSock, otherSock.path, 0, "it is owned by uid 4242"},
				{"directory through a symlink", sysDaemon, filepath.Join(f.base, "links", "run", "agent.sock"), 0, "is a symlink"},
				{"socket is a symlink", sysDaemon, filepath.Join(f.base, "links", "agent.sock"), 0, "it is a symlink"},
			} {
				t.Run(c.name, func(t *testing.T) {
					c.l.seen()
					out := f.drive(lang, client, sysClientUID, c.override)
					if out.Reason != "untrusted_endpoint" || !strings.Contains(out.Message, c.problem) || out.Value != nil {
						t.Fatalf("want untrusted_endpoint (%s), got %s", c.problem, out.raw)
					}
					if lang == "node" && out.Code != "ERR_KEYCHAIN_AUTH_UNTRUSTED_ENDPOINT" {
						t.Errorf("node error code %q", out.Code)
					}
					if lang == "python" && out.Error != "UntrustedEndpoint" {
						t.Errorf("python exception %s", out.Error)
					}
					if evs := c.l.seen(); len(evs) != 0 {
						t.Fatalf("the refused endpoint was connected to: %+v", evs)
					}
					if c.l != sysDaemon {
						canary(t, c.l, c.canaryUID)
					}
				})
			}

			t.Run("command line", func(t *testing.T) {
				interp := sysInterp(map[string]string{"python": "python3", "node": "node"}[lang])
				r := f.runAs(sysClientUID, []string{"KEYCHAIN_AUTH_SOCKET=" + planted.path}, interp, client, "read", "svc", "k")
				if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "refusing endpoint "+planted.path) {
					t.Fatalf("CLI with a planted socket: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				if evs := planted.seen(); len(evs) != 0 {
					t.Fatalf("the planted endpoint was connected to: %+v", evs)
				}
			})
		})
	}
}

// TestClientsSystemModePeer: a socket that passes the file checks (the
// service user's directory and socket) but is served by a process of
// another uid. The Python client asks the kernel (SO_PEERCRED) and refuses
// with foreign_daemon before sending anything; its canary is a user-mode
// copy run as that uid, which gets the value. The Node client cannot ask
// (no SO_PEERCRED in Node's standard library): a known limitation, asserted
// so that the README is updated the day it changes. Placing such a socket
// there takes root or the service user.
func TestClientsSystemModePeer(t *testing.T) {
	f := newSysFixture(t)
	prefix := f.layout("sys")
	f.dir("sys/run/impostor", f.svcUID, 0o755)
	impostor := f.listen("sys/run/impostor", sysOtherUID, f.svcUID)
	for _, lang := range sysLangs(t) {
		t.Run(lang, func(t *testing.T) {
			client := f.clientCopy(lang, lang+"-system", prefix)
			out := f.drive(lang, client, sysClientUID, impostor.path)
			evs := impostor.seen()
			if lang == "node" {
				if out.Value == nil || sentBytes(evs) == 0 {
					t.Fatalf("known limitation changed: the Node client no longer talks to a socket of the service user served by uid %d (%s); update clients/node/README.md", sysOtherUID, out.raw)
				}
				return
			}
			if out.Reason != "foreign_daemon" || out.Error != "ForeignDaemon" || !strings.Contains(out.Message, "runs as uid 4242") || out.Value != nil {
				t.Fatalf("want ForeignDaemon (uid 4242), got %s", out.raw)
			}
			if len(evs) != 1 || evs[0].Bytes != 0 {
				t.Fatalf("want one connection with nothing sent, the fake daemon saw %+v", evs)
			}
			userMode := f.clientCopy("python", "user-mode", filepath.Join(f.base, "not-installed"))
			if out := f.drive("python", userMode, sysOtherUID, impostor.path); out.Value == nil || *out.Value != sysPeerValue {
				t.Fatalf("canary: a user-mode client as uid %d did not get the value: %s", sysOtherUID, out.raw)
			}
			if sentBytes(impostor.seen()) == 0 {
				t.Fatal("canary: nothing reached the fake daemon")
			}
		})
	}
}

// TestClientsSystemModeMarker: an etc/keychain-auth that exists but is not
// a root-owned directory writable by root only is an error, not "system mode
// not installed": the client refuses every endpoint, including a user
// daemon of its own uid that it would use in user mode. With the marker
// missing the client is in user mode. With the marker fine and no socket,
// the daemon is not running.
func TestClientsSystemModeMarker(t *testing.T) {
	f := newSysFixture(t)
	f.dir("user-run", sysClientUID, 0o700)
	own := f.listen("user-run", sysClientUID, sysClientUID)

	good := f.layout("good")
	for _, c := range []struct {
		name, problem string
		make          func(etc string)
	}{
		{"world-writable", "writable by group or others (mode 0777)", func(etc string) { f.dir(etc, 0, 0o777) }},
		{"owned by the user", "owned by uid 65534, not root", func(etc string) { f.dir(etc, sysClientUID, 0o755) }},
		{"symlink to a good one", "a symlink", func(etc string) {
			if err := os.Symlink(filepath.Join(good, "etc", "keychain-auth"), filepath.Join(f.base, etc)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a file", "not a directory", func(etc string) {
			if err := os.WriteFile(filepath.Join(f.base, etc), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := strings.ReplaceAll(c.name, " ", "-")
			f.dir(name+"/etc", 0, 0o755)
			c.make(name + "/etc/keychain-auth")
			for _, lang := range sysLangs(t) {
				client := f.clientCopy(lang, lang+"-"+name, filepath.Join(f.base, name))
				out := f.drive(lang, client, sysClientUID, own.path)
				if out.Reason != "system_mode_invalid" || !strings.Contains(out.Message, c.problem) || out.Value != nil {
					t.Errorf("%s: want system_mode_invalid (%s), got %s", lang, c.problem, out.raw)
				}
				if evs := own.seen(); len(evs) != 0 {
					t.Errorf("%s: the user daemon was connected to: %+v", lang, evs)
				}
			}
		})
	}

	t.Run("not installed", func(t *testing.T) {
		for _, lang := range sysLangs(t) {
			client := f.clientCopy(lang, lang+"-absent", filepath.Join(f.base, "absent"))
			out := f.drive(lang, client, sysClientUID, own.path)
			if out.Value == nil || *out.Value != sysPeerValue {
				t.Errorf("%s: user mode, own daemon: %s", lang, out.raw)
			}
			if sentBytes(own.seen()) == 0 {
				t.Errorf("%s: the user daemon received nothing", lang)
			}
		}
	})

	t.Run("installed, daemon not running", func(t *testing.T) {
		for _, lang := range sysLangs(t) {
			client := f.clientCopy(lang, lang+"-good", good)
			out := f.drive(lang, client, sysClientUID, "")
			if out.Reason != "daemon_not_running" || !strings.Contains(out.Message, "system service") {
				t.Errorf("%s: want daemon_not_running naming the system service, got %s", lang, out.raw)
			}
		}
	})
}

// TestClientsShield: a client holds its core-dump limit at 0, soft and
// hard, while it waits for a value (read from /proc by the fake daemon, and
// as the client sees it afterwards), in both modes. Python makes itself
// non-dumpable (/proc/PID/mem then belongs to root) with a system daemon only:
// a user-mode daemon could not identify it. Node cannot make itself
// non-dumpable (no prctl in its standard library): known limitation.
func TestClientsShield(t *testing.T) {
	f := newSysFixture(t)
	prefix := f.layout("sys")
	sysDaemon := f.listen("sys/run/keychain-auth", 0, f.svcUID)
	f.dir("user-run", sysClientUID, 0o700)
	own := f.listen("user-run", sysClientUID, sysClientUID)

	for _, lang := range sysLangs(t) {
		for _, mode := range []struct {
			name     string
			prefix   string
			l        *sysListener
			override string
		}{
			{"system", prefix, sysDaemon, ""},
			{"user", filepath.Join(f.base, "absent"), own, own.path},
		} {
			t.Run(lang+"/"+mode.name, func(t *testing.T) {
				client := f.clientCopy(lang, lang+"-"+mode.name, mode.prefix)
				out := f.drive(lang, client, sysClientUID, mode.override)
				if out.Value == nil {
					t.Fatalf("read: %s", out.raw)
				}
				if strings.Join(out.Core, " ") != "0 0" {
					t.Errorf("core-dump limit after the read: %v, want 0 0", out.Core)
				}
				evs := mode.l.seen()
				if len(evs) != 1 || evs[0].Core == nil || evs[0].ProcOwner == nil {
					t.Fatalf("the fake daemon saw %+v", evs)
				}
				if got := strings.Join(evs[0].Core, " "); got != "0 0" {
					t.Errorf("core-dump limit while waiting for the value: %s, want 0 0", got)
				}
				wantOwner := sysClientUID // dumpable
				if lang == "python" && mode.name == "system" {
					wantOwner = 0 // non-dumpable
				}
				if *evs[0].ProcOwner != wantOwner {
					t.Errorf("/proc/PID/mem of the waiting client belongs to uid %d, want %d (%s)", *evs[0].ProcOwner, wantOwner,
						map[bool]string{true: "non-dumpable", false: "dumpable"}[wantOwner == 0])
				}
				if lang == "python" {
					want := map[string]int{"system": 0, "user": 1}[mode.name]
					if out.Dumpable == nil || *out.Dumpable != want {
						t.Errorf("PR_GET_DUMPABLE after the read: %v, want %d", out.Dumpable, want)
					}
				}
			})
		}
	}
}

// TestClientsNodeCoreLimitRequired: Node has no setrlimit, so its client
// lowers its core-dump limit with prlimit(1). Where prlimit is missing (here:
// a copy that looks for it elsewhere) and the process's hard limit is not 0,
// connect() refuses with core_limit_not_zero and nothing reaches the daemon;
// started with `ulimit -c 0`, as the README says, the same copy works.
func TestClientsNodeCoreLimitRequired(t *testing.T) {
	f := newSysFixture(t)
	node := sysInterp("node")
	if node == "" {
		t.Skip("no node that other uids can run")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max == 0 {
		t.Skip("this test's hard core-dump limit is already 0: a child cannot start with another")
	}
	f.dir("user-run", sysClientUID, 0o700)
	own := f.listen("user-run", sysClientUID, sysClientUID)
	client := f.clientCopy("node", "node-no-prlimit", filepath.Join(f.base, "absent"))
	b, err := os.ReadFile(client)
	if err != nil {
		t.Fatal(err)
	}
	const look = `['/usr/bin/prlimit', '/bin/prlimit']`
	if strings.Count(string(b), look) != 1 {
		t.Fatalf("expected exactly one %s in the Node client", look)
	}
	missing := `['` + filepath.Join(f.base, "no-prlimit") + `']`
	if err := os.WriteFile(client, []byte(strings.Replace(string(b), look, missing, 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	out := f.drive("node", client, sysClientUID, own.path)
	if out.Reason != "core_limit_not_zero" || out.Code != "ERR_KEYCHAIN_AUTH_CORE_LIMIT_NOT_ZERO" || !strings.Contains(out.Message, "ulimit -c 0") || out.Value != nil {
		t.Fatalf("want core_limit_not_zero naming ulimit -c 0, got %s", out.raw)
	}
	if evs := own.seen(); len(evs) != 0 {
		t.Fatalf("the daemon was connected to: %+v", evs)
	}

	r := f.runAs(sysClientUID, []string{"KEYCHAIN_AUTH_SOCKET=" + own.path}, "/bin/sh", "-c",
		`ulimit -c 0 && exec "$0" "$@"`, node, "-e", sysDriveJS, client)
	if !strings.Contains(r.stdout, `"value":"`+sysPeerValue+`"`) || !strings.Contains(r.stdout, `"core":["0","0"]`) {
		t.Fatalf("started with ulimit -c 0: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if sentBytes(own.seen()) == 0 {
		t.Fatal("started with ulimit -c 0: nothing reached the daemon")
	}
}
