package auth

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// nsNames are the namespaces a peer must share with the daemon: in a user
// namespace of its own a process can forge SCM_CREDENTIALS, in a pid
// namespace pids mean something else, in a mount namespace paths do.
var nsNames = [...]string{"user", "pid", "mnt"}

type nsID struct{ dev, ino uint64 }

// verifierSys is the daemon's own uid and namespaces.
type verifierSys struct {
	euid uint32
	ns   [len(nsNames)]nsID
}

func (s *verifierSys) init() error {
	s.euid = uint32(os.Geteuid())
	ns, err := namespacesOf("self")
	if err != nil {
		return fmt.Errorf("new verifier: %w", err)
	}
	s.ns = ns
	return nil
}

func namespacesOf(pid string) ([len(nsNames)]nsID, error) {
	var ids [len(nsNames)]nsID
	for i, name := range nsNames {
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+pid+"/ns/"+name, &st); err != nil {
			return ids, fmt.Errorf("namespace %s: %w", name, err)
		}
		ids[i] = nsID{uint64(st.Dev), st.Ino}
	}
	return ids, nil
}

// setup runs once per connection, from Accept.
func (p *Peer) setup() error {
	var serr error
	err := p.raw.Control(func(fd uintptr) { serr = p.setupFD(int(fd)) })
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "socket control: %v", err)
	}
	if serr != nil {
		return serr
	}
	p.sys.readFn = p.sys.recvmsg
	t := p.target()
	if err := p.v.checkNamespaces(t); err != nil {
		return err
	}
	return t.alive()
}

func (p *Peer) setupFD(fd int) error {
	w := &p.v.opts.weak
	passPidfd, err := setSockOpts(fd, w.AllowPassRights)
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "%v", err)
	}
	p.sys.passPidfd = passPidfd
	cred, pidfd, err := peerCred(fd, !w.NoPidfd && !w.ForcePidfdOpen)
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "%v", err)
	}
	p.sys.pidfd = pidfd
	p.pid, p.uid = int(cred.Pid), cred.Uid
	if p.pid <= 0 {
		return refuse(ReasonForeignNamespace, "peer pid not visible in our pid namespace")
	}
	if p.uid != p.v.sys.euid && !p.v.opts.MultiUser && !p.v.opts.weak.NoUIDCheck {
		return refuse(ReasonUIDMismatch, "peer uid %d, daemon euid %d", p.uid, p.v.sys.euid)
	}
	if pidfd < 0 && !w.NoPidfd {
		if err := p.openPidfdReduced(); err != nil {
			return err
		}
	}
	return p.statPidfd()
}

// openPidfdReduced is the fallback for kernels without SO_PEERPIDFD: the
// pid could have been reused between connect and pidfd_open, so a process
// that started after we began accepting is refused and the rest is marked
// ReducedAssurance.
func (p *Peer) openPidfdReduced() error {
	before, err := bootTicks()
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "%v", err)
	}
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		return refuse(ReasonPeerExited, "pidfd_open %d: %v", p.pid, err)
	}
	p.sys.pidfd = fd
	start, err := startTicks(p.pid)
	if err != nil {
		return refuse(ReasonIdentityUnavailable, "%v", err)
	}
	if start > before {
		return refuse(ReasonPeerExited, "pid %d started after the connection", p.pid)
	}
	p.sys.startTicks = start
	p.reduced = true
	return nil
}

func (p *Peer) statPidfd() error {
	if p.sys.pidfd < 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(p.sys.pidfd, &st); err != nil {
		return refuse(ReasonIdentityUnavailable, "fstat pidfd: %v", err)
	}
	p.sys.pidfdDev, p.sys.pidfdIno = uint64(st.Dev), st.Ino
	return nil
}

func (p *Peer) target() target { return target{pid: p.pid, pidfd: p.sys.pidfd, uid: p.uid} }

// checkNamespaces refuses a process outside the daemon's user, pid or
// mount namespace. The caller proves with t.alive() afterwards that the
// pid still named the same process.
func (v *Verifier) checkNamespaces(t target) error {
	if v.opts.AllowForeignNamespaces || v.opts.weak.NoNamespaceCheck {
		return nil
	}
	ns, err := namespacesOf(itoa(t.pid))
	if err != nil {
		if aerr := t.alive(); aerr != nil {
			return aerr
		}
		return refuse(ReasonIdentityUnavailable, "pid %d: %v", t.pid, err)
	}
	for i := range ns {
		if ns[i] != v.sys.ns[i] {
			return refuse(ReasonForeignNamespace, "pid %d: %s namespace differs", t.pid, nsNames[i])
		}
	}
	return nil
}
