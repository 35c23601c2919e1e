package main

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelFeatures probes what caller identification uses (spec: security
// model): SO_PEERPIDFD, SO_PASSPIDFD, pidfs, and whether Yama restricts
// ptrace between processes of one user.
func kernelFeatures() kernelReport {
	var r kernelReport
	r.known = true
	if fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
		if pidfd, err := unix.GetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
			r.peerPidfd = true
			unix.Close(pidfd)
		}
		r.passPidfd = unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1) == nil
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
	if pidfd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		var st unix.Statfs_t
		r.pidfs = unix.Fstatfs(pidfd, &st) == nil && st.Type == unix.PID_FS_MAGIC
		unix.Close(pidfd)
	}
	b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	if err == nil {
		r.yama = strings.TrimSpace(string(b))
	}
	return r
}
