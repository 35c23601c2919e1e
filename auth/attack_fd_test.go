//go:build linux

package auth

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const attackRequest = `{"type":"REQUEST","action":"read","service":"victim","targets":["token"]}` + "\n"

// attackVictim is an approved program's client: it connects, prints the
// descriptor number of its connection ("fd N") and then waits for the
// daemon's answer. With AUTH_ATTACK_HOLDER set it first hands a duplicate
// of the connection to the process listening there (SCM_RIGHTS).
func attackVictim() {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: os.Getenv("AUTH_ATTACK_SOCK"), Net: "unix"})
	exitOn(err)
	raw, err := c.SyscallConn()
	exitOn(err)
	var fd int
	raw.Control(func(u uintptr) { fd = int(u) })
	if holder := os.Getenv("AUTH_ATTACK_HOLDER"); holder != "" {
		h, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: holder, Net: "unix"})
		exitOn(err)
		_, _, err = h.WriteMsgUnix([]byte("x"), unix.UnixRights(fd), nil)
		exitOn(err)
	}
	fmt.Printf("fd %d\n", fd)
	buf := make([]byte, 512)
	c.Read(buf)
	time.Sleep(time.Minute) // stay the live, approved connector
}

// attackThief takes the victim's connection with pidfd_getfd and writes a
// request on it.
func attackThief() {
	pid, _ := strconv.Atoi(os.Getenv("AUTH_ATTACK_VICTIM"))
	fd, _ := strconv.Atoi(os.Getenv("AUTH_ATTACK_FD"))
	pidfd, err := unix.PidfdOpen(pid, 0)
	exitOn(err)
	stolen, err := unix.PidfdGetfd(pidfd, fd, 0)
	exitOn(err)
	fmt.Println("stolen")
	_, err = unix.Write(stolen, []byte(attackRequest))
	exitOn(err)
	time.Sleep(time.Minute)
}

// attackHolder receives a connection over SCM_RIGHTS on
// AUTH_ATTACK_HOLDER and writes a request on it.
func attackHolder() {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: os.Getenv("AUTH_ATTACK_HOLDER"), Net: "unix"})
	exitOn(err)
	fmt.Println("holding")
	c, err := l.AcceptUnix()
	exitOn(err)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 1), oob)
	exitOn(err)
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	exitOn(err)
	if len(msgs) != 1 {
		exitOn(fmt.Errorf("got %d control messages", len(msgs)))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	exitOn(err)
	_, err = unix.Write(fds[0], []byte(attackRequest))
	exitOn(err)
	fmt.Println("written")
	time.Sleep(time.Minute)
}

// victimBinary is the approved program: a copy of this test binary with
// bytes appended (another hash) in the lab.
func (lab *attackLab) victimBinary() (path, hash string) {
	path = copyBinary(lab.t, lab.dir, "approved-client", "\x00approved")
	return path, fileHash(lab.t, path)
}

// TestAttackPidfdGetfd: an approved client connects; the attacker (same
// uid, so ptrace access: no Yama here) copies the connection out of it
// with pidfd_getfd and writes its own request, which the daemon would
// attribute to the approved connector.
func TestAttackPidfdGetfd(t *testing.T) {
	lab := newAttackLab(t)
	victim, hash := lab.victimBinary()
	run := func(w Weakening) attackResult {
		d := lab.daemon(daemonConfig{Weak: w})
		v := lab.role(victim, "victim")
		fd := v.expect("fd ")
		th := lab.role("", "thief", "AUTH_ATTACK_VICTIM="+itoa(v.cmd.Process.Pid), "AUTH_ATTACK_FD="+fd)
		th.expect("stolen")
		return d.result()
	}
	if _, err := os.Stat("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		t.Log("Yama is present: pidfd_getfd may need ptrace_scope 0 for this attack")
	}
	wantIdentified(t, run(Weakening{NoSenderCheck: true}), victim, hash)
	wantRefused(t, run(Weakening{}), ReasonSenderNotConnector)
}

// TestAttackSCMRightsHandoff: an approved client's connection is handed
// over SCM_RIGHTS to another process, which writes the request.
func TestAttackSCMRightsHandoff(t *testing.T) {
	lab := newAttackLab(t)
	victim, hash := lab.victimBinary()
	holderSock := filepath.Join(lab.dir, "holder.sock")
	run := func(w Weakening) attackResult {
		os.Remove(holderSock)
		d := lab.daemon(daemonConfig{Weak: w})
		h := lab.role("", "holder", "AUTH_ATTACK_HOLDER="+holderSock)
		h.expect("holding")
		lab.role(victim, "victim", "AUTH_ATTACK_HOLDER="+holderSock)
		h.expect("written")
		return d.result()
	}
	wantIdentified(t, run(Weakening{NoSenderCheck: true}), victim, hash)
	wantRefused(t, run(Weakening{}), ReasonSenderNotConnector)
}

// TestAttackFDsToDaemon: the attacker sends descriptors to the daemon with
// its request (SCM_RIGHTS), which a daemon that does not close them leaks
// (the spec measured 800). The canary keeps SO_PASSRIGHTS on and the
// descriptors open; with SO_PASSRIGHTS on but the real Read, they are
// closed and the read refused; with the real verifier (SO_PASSRIGHTS=0
// where the kernel has it) nothing reaches the daemon at all.
func TestAttackFDsToDaemon(t *testing.T) {
	const n = 200
	lab := newAttackLab(t)
	run := func(w Weakening) attackResult {
		d := lab.daemon(daemonConfig{Weak: w, ReadTimeout: 500 * time.Millisecond})
		// The package's client helper sends n descriptors with its message.
		lab.start([]string{lab.bin}, "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+lab.sock, "AUTH_TEST_RIGHTS="+itoa(n))
		return d.result()
	}
	res := run(Weakening{AllowPassRights: true, KeepPassedFDs: true})
	// oobSize bounds what one recvmsg takes; the kernel drops the rest.
	if res.FDsAfter-res.FDsBefore < 50 {
		t.Fatalf("canary: daemon fds %d -> %d; want descriptors leaked", res.FDsBefore, res.FDsAfter)
	}
	res = run(Weakening{AllowPassRights: true})
	if res.ReadReason != ReasonFDPassingRefused || res.FDsAfter != res.FDsBefore {
		t.Fatalf("SO_PASSRIGHTS on, real Read: %+v; want %s and no descriptor kept", res, ReasonFDPassingRefused)
	}
	res = run(Weakening{})
	if res.FDsAfter != res.FDsBefore || (res.ReadReason != ReasonFDPassingRefused && res.ReadReason != "timeout") {
		t.Fatalf("real verifier: %+v; want no descriptor kept and nothing read", res)
	}
}
