//go:build linux

package auth

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAttackFUSEImage: the attacker's client runs from a FUSE filesystem,
// whose server decides per open what bytes each reader gets: execve gets
// the attacker's program, the daemon (opening /proc/PID/exe) the bytes of
// an approved one, of the same size, with direct I/O past the page cache.
// The daemon refuses to hash images there (fstatfs): untrusted_filesystem.
// The filesystem is a raw /dev/fuse server in C
// (testdata/attack/fuse_image.c) mounted by root with allow_other; the
// client runs from it as the same unprivileged uid as the daemon. Canary
// (NoFilesystemCheck): the daemon reports the approved hash for a process
// running the attacker's bytes.
func TestAttackFUSEImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP mounting a FUSE filesystem with allow_other needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("SKIP no /dev/fuse: %v", err)
	}
	if _, err := os.Stat("/usr/include/linux/fuse.h"); err != nil {
		t.Skipf("SKIP the FUSE server needs the kernel's <linux/fuse.h> (linux-libc-dev): %v", err)
	}
	lab := newAttackLab(t)
	server := lab.compileC("fuse_image")
	// Same length of extra bytes: the two images have one size.
	attacker := copyBinary(t, lab.dir, "attacker-client", "\x00attacker")
	approved := copyBinary(t, lab.dir, "approved-client", "\x00approved")
	approvedHash := fileHash(t, approved)
	mnt := filepath.Join(lab.dir, "fuse")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	fs := lab.startAttr(&syscall.SysProcAttr{Setpgid: true}, []string{server, mnt, attacker, approved})
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	fs.expectOrSkip("mounted")
	prog := filepath.Join(mnt, "prog")
	var st unix.Statfs_t
	if err := unix.Statfs(prog, &st); err != nil || st.Type != unix.FUSE_SUPER_MAGIC {
		t.Fatalf("%s: statfs type %#x, %v; want FUSE", prog, st.Type, err)
	}
	run := func(w Weakening) attackResult {
		d := lab.daemon(daemonConfig{Weak: w})
		lab.start([]string{prog}, "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+lab.sock, "AUTH_TEST_MSG="+attackRequest)
		// The server told execve's open (which gets the attacker's bytes)
		// from the others: without that the lie would not be one.
		fs.expect("open exec")
		return d.result()
	}
	wantIdentified(t, run(Weakening{NoFilesystemCheck: true}), prog, approvedHash)
	wantRefused(t, run(Weakening{}), ReasonUntrustedFilesystem)
}
