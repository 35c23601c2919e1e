package auth

import (
	"golang.org/x/sys/unix"
)

// courier applies spec §4: the peer runs keychain-auth's own image, so it
// relays for its parent. The parent is pinned race-free: pidfd_open(PPid),
// then the child must still be alive with the same PPid, which proves the
// pidfd names the real parent (a reparented child would show another
// PPid). The parent is checked like any peer (uid, namespaces). A parent
// that is itself keychain-auth is refused (courier_chain): couriers are
// followed one level only.
//
// With pin set (the CLI's own address space is pinned) the parent's is
// pinned too, before it is identified, and returned with its pidfd for
// the kept identity (pin_linux.go); the caller owns what is returned.
func (v *Verifier) courier(child target, cli *Identity, ppid int, pin bool) (*Identity, heldParent, error) {
	held := noParent()
	if ppid <= 0 {
		return nil, held, refuse(ReasonIdentityUnavailable, "courier %d has no parent in our namespace", child.pid)
	}
	parent, err := v.pinParent(child, ppid)
	if err != nil {
		return nil, held, err
	}
	held.pid, held.pidfd = ppid, parent.pidfd
	id, err := v.identifyParent(parent, &held, pin)
	if err == nil && id.Exe.Hash == v.opts.SelfHash {
		err = refuse(ReasonCourierChain, "courier %d was started by keychain-auth %d", child.pid, parent.pid)
	}
	if err != nil {
		held.close()
		return nil, held, err
	}
	id.UID = child.uid
	id.ReducedAssurance = cli.ReducedAssurance
	id.Courier = cli
	return id, held, nil
}

// identifyParent checks and identifies a courier's parent, pinning its
// address space first into held when pin is set and it has a pidfd.
func (v *Verifier) identifyParent(parent target, held *heldParent, pin bool) (*Identity, error) {
	if err := v.checkParent(parent); err != nil {
		return nil, err
	}
	if pin && parent.pidfd >= 0 {
		held.pin, _ = openPin(parent.pid)
	}
	id, _, err := v.identify(parent)
	if err != nil {
		return nil, err
	}
	if held.pin.held() {
		// Identified from the pinned address space only if it still reads
		// now; else the identity answers this request, as a courier's
		// parent's always did, and is not kept for the next.
		if ok, _ := held.pin.intact(); !ok {
			held.pin.close()
		}
	}
	return id, nil
}

func (v *Verifier) pinParent(child target, ppid int) (target, error) {
	parent := target{pid: ppid, pidfd: -1, uid: child.uid}
	if !v.opts.weak.NoPidfd {
		fd, err := unix.PidfdOpen(ppid, 0)
		if err != nil {
			return parent, refuse(ReasonPeerExited, "courier parent %d: %v", ppid, err)
		}
		parent.pidfd = fd
	}
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	st, err := readStatus(child.pid, bp)
	if err != nil {
		err = v.unavailable(child, err)
	} else {
		err = child.alive()
	}
	if err == nil && st.ppid != ppid {
		err = refuse(ReasonPeerExited, "courier %d was reparented", child.pid)
	}
	if err != nil {
		if parent.pidfd >= 0 {
			unix.Close(parent.pidfd)
		}
		return parent, err
	}
	return parent, nil
}

// checkParent applies the accept-time checks to the courier's parent.
func (v *Verifier) checkParent(parent target) error {
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	st, err := readStatus(parent.pid, bp)
	if err != nil {
		return v.unavailable(parent, err)
	}
	if st.euid != parent.uid {
		return refuse(ReasonUIDMismatch, "courier parent %d has euid %d, the courier uid %d", parent.pid, st.euid, parent.uid)
	}
	if err := v.checkNamespaces(parent); err != nil {
		return err
	}
	return parent.alive()
}
