package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// target is a process the daemon asks /proc about, pinned by a pidfd
// (-1 only in the naive test mode).
type target struct {
	pid   int
	pidfd int
	// uid is the peer's uid: in system mode each user's scripts must be
	// owned by that user (or root), and a courier's parent must be that user.
	uid uint32
}

// alive reports peer_exited once the process behind the pidfd has exited
// (a pidfd polls readable then; its pid may already belong to another
// process). Checked after /proc reads, it proves they were about t.
func (t target) alive() error {
	if t.pidfd < 0 {
		return nil
	}
	fds := [1]unix.PollFd{{Fd: int32(t.pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds[:], 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return refuse(ReasonIdentityUnavailable, "poll pidfd: %v", err)
		}
		if n > 0 {
			return refuse(ReasonPeerExited, "pid %d exited", t.pid)
		}
		return nil
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func procPath(pid int, name string) string { return "/proc/" + itoa(pid) + "/" + name }

var procBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// readProc reads a whole /proc file into *buf (grown as needed) and
// returns it. A file longer than limit is an error, so that nothing can hide
// beyond a limit; see readProcPrefix for the one file read cut.
func readProc(pid int, name string, buf *[]byte, limit int) ([]byte, error) {
	b, cut, err := readProcPrefix(pid, name, buf, limit)
	if err == nil && cut {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, limit)
	}
	return b, err
}

// readProcPrefix reads at most limit bytes of a /proc file into *buf and
// reports cut when the file holds more (it reads one byte past limit to
// know). Callers must not trust what a cut read leaves out: its last
// NUL-separated field may be the prefix of a longer one.
func readProcPrefix(pid int, name string, buf *[]byte, limit int) ([]byte, bool, error) {
	fd, err := unix.Open(procPath(pid, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(fd)
	b := (*buf)[:0]
	for {
		if len(b) == limit {
			*buf = b
			var one [1]byte
			n, err := readOnce(fd, one[:])
			if err != nil {
				return nil, false, fmt.Errorf("read %s: %w", name, err)
			}
			return b, n > 0, nil
		}
		if len(b) == cap(b) {
			b = append(b, make([]byte, min(max(cap(b), 4096), limit-len(b)))...)[:len(b)]
		}
		n, err := readOnce(fd, b[len(b):min(cap(b), limit)])
		if err != nil {
			*buf = b
			return nil, false, fmt.Errorf("read %s: %w", name, err)
		}
		if n == 0 {
			*buf = b
			return b, false, nil
		}
		b = b[:len(b)+n]
	}
}

// readOnce is one read(2), retried on EINTR.
func readOnce(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// startTicks is field 22 of /proc/PID/stat: start time in clock ticks
// after boot.
func startTicks(pid int) (uint64, error) {
	var v [1]uint64
	err := statFields(pid, []int{22}, v[:])
	return v[0], err
}

// statFields parses the numbered fields (1-based, as in proc(5)) of
// /proc/PID/stat into out.
func statFields(pid int, want []int, out []uint64) error {
	return statFieldsOf(pid, "stat", want, out)
}

// statFieldsOf parses fields of a stat file of pid: "stat" for the whole
// process, or its main thread's "task/PID/stat", which carries the same
// address-space fields without summing over every thread.
func statFieldsOf(pid int, name string, want []int, out []uint64) error {
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	b, err := readProc(pid, name, bp, 4096)
	if err != nil {
		return err
	}
	// The command name may contain spaces and parentheses; fields restart
	// after the last ')'. Field 3 is the first after it.
	fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	for i, f := range want {
		if f < 3 || f-3 >= len(fields) {
			return fmt.Errorf("parse stat of %d: no field %d", pid, f)
		}
		if out[i], err = strconv.ParseUint(string(fields[f-3]), 10, 64); err != nil {
			return fmt.Errorf("parse stat of %d: %w", pid, err)
		}
	}
	return nil
}

// bootTicks is now in the clock ticks of /proc/PID/stat (USER_HZ, 100 on
// every architecture Go supports on Linux).
func bootTicks() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime: %w", err)
	}
	return uint64(ts.Sec)*100 + uint64(ts.Nsec)/1e7, nil
}

// untrustedFS are filesystems that can serve the daemon other bytes than
// the kernel gave execve (FUSE, including virtiofs) or whose contents are
// controlled off this machine.
var untrustedFS = map[uint32]string{
	0x65735546: "fuse", 0x6969: "nfs", 0x517b: "smb", 0xff534d42: "cifs",
	0xfe534d42: "smb2", 0x01021997: "9p", 0x00c36400: "ceph",
	0x5346414f: "afs", 0x6b414653: "afs", 0x73757245: "coda", 0x564c: "ncp",
	0x19800202: "orangefs", 0x0bd00bd0: "lustre", 0x47504653: "gpfs",
	0x013111a8: "ibrix", 0x7461636f: "ocfs2", 0x01161970: "gfs2",
}

// checkFilesystem refuses a file on an untrusted filesystem.
func checkFilesystem(fd int) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return refuse(ReasonIdentityUnavailable, "fstatfs: %v", err)
	}
	if name, bad := untrustedFS[uint32(st.Type)]; bad {
		return refuse(ReasonUntrustedFilesystem, "image on %s", name)
	}
	return nil
}

func keyOf(st *unix.Stat_t) fileKey {
	return fileKey{
		dev: uint64(st.Dev), ino: st.Ino, size: uint64(st.Size),
		mtimeSec: int64(st.Mtim.Sec), mtimeNsec: int64(st.Mtim.Nsec),
		ctimeSec: int64(st.Ctim.Sec), ctimeNsec: int64(st.Ctim.Nsec),
	}
}

// fdReader reads a raw descriptor from its current offset.
type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}
