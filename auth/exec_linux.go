package auth

import (
	"golang.org/x/sys/unix"
)

// execStampFields are the /proc/PID/stat fields that a new program image
// gets afresh on every execve (start_code, end_code, start_stack,
// start_brk, arg_start, env_start): with address-space randomization they
// differ between any two execs, even of the same file. They read as 0 to
// a reader without ptrace-read access, which the daemon has to every peer
// it can identify at all.
var execStampFields = []int{26, 27, 28, 47, 48, 50}

// execStamp is what the connecting process was running when the daemon
// read the first chunk of a request: the executable file and the layout
// of its address space.
type execStamp struct {
	exeDev, exeIno uint64
	layout         [6]uint64
}

func readExecStamp(pid int) (execStamp, error) {
	var s execStamp
	var st unix.Stat_t
	if err := unix.Stat(procPath(pid, "exe"), &st); err != nil {
		return s, err
	}
	s.exeDev, s.exeIno = uint64(st.Dev), st.Ino
	// The main thread's stat file: the fields are the process's (one
	// address space), and it is far cheaper than the process-wide one.
	err := statFieldsOf(pid, "task/"+itoa(pid)+"/stat", execStampFields, s.layout[:])
	return s, err
}

// stampExec records, at the first chunk of a request that passed the
// sender check, what the connector runs. A failure is kept for Identify,
// which reports it (the connector may simply have exited).
//
// After a request was identified, its final reading is carried over as the
// next request's stamp instead of reading again: it was taken before the
// next request could be read, so it covers a longer stretch, and a program
// that execs between two requests on one connection is refused as well.
//
// Why not at Accept: a program may connect and exec another that then
// speaks for itself; what matters is the program that wrote the request.
func (p *Peer) stampExec() {
	s := &p.sys
	// With the address space pinned (pin_linux.go) the pin, read after the
	// request, covers every exec since the previous one; no stamp is needed.
	if s.stamped || s.pin.held() || p.v.opts.weak.NoExecCheck {
		return
	}
	s.stamped = true
	if s.carried {
		return
	}
	s.exec, s.stampErr = readExecStamp(p.pid)
}

// checkExec refuses a connector that has exec'ed since the daemon read the
// first chunk of this request: the request then came from another program
// than the one identified now. Called after the /proc reads of Identify,
// so that those reads were of the program that wrote. The next request
// gets a fresh stamp.
func (p *Peer) checkExec() error {
	s := &p.sys
	if !s.stamped {
		return nil // nothing read since the last Identify
	}
	s.stamped = false
	t := p.target()
	if s.stampErr != nil {
		return p.v.unavailable(t, s.stampErr)
	}
	now, err := readExecStamp(p.pid)
	if err != nil {
		return p.v.unavailable(t, err)
	}
	if now != s.exec {
		s.carried = false
		if aerr := t.alive(); aerr != nil {
			return aerr
		}
		return refuse(ReasonExecAfterConnect, "pid %d exec'ed after writing its request", p.pid)
	}
	if err := t.alive(); err != nil {
		s.carried = false
		return err
	}
	s.carried = true
	return nil
}
