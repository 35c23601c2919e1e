//go:build linux

package auth

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// attackBindMount runs in a user+mount namespace of its own (as "root"
// there): it bind-mounts AUTH_ATTACK_FAKE over AUTH_ATTACK_REGISTERED and
// runs the registered path, which now starts the attacker's client.
func attackBindMount() {
	fake, reg := os.Getenv("AUTH_ATTACK_FAKE"), os.Getenv("AUTH_ATTACK_REGISTERED")
	exitOn(unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	exitOn(unix.Mount(fake, reg, "", unix.MS_BIND, ""))
	env := append(envWithout("AUTH_ATTACK_ROLE"), "AUTH_TEST_HELPER=client",
		"AUTH_TEST_SOCK="+os.Getenv("AUTH_ATTACK_SOCK"), "AUTH_TEST_MSG="+attackRequest)
	exitOn(syscall.Exec(reg, []string{reg}, env))
}

// envWithout is the environment without key (the first of duplicate
// variables wins in Go, so a role must be removed, not overridden).
func envWithout(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// attackUserNS runs AUTH_ATTACK_INNER (a role) in a new user and mount
// namespace, mapping this unprivileged process's uid and gid to root
// there, as any user can; it prints "ok" first when the kernel allows it.
func attackUserNS() {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(envWithout("AUTH_ATTACK_ROLE"), "AUTH_ATTACK_ROLE="+os.Getenv("AUTH_ATTACK_INNER"))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	exitOn(cmd.Run())
}

// TestAttackBindMount: inside its own user+mount namespace the attacker
// bind-mounts its binary over the registered path and runs that path, so
// /proc/PID/exe reads as the registered path. By default the peer is
// refused at Accept for its foreign namespaces (foreign_namespace: the
// daemon cannot resolve its paths, and it could forge SCM_CREDENTIALS);
// with the container opt-in the path check catches it
// (image_path_mismatch: the registered path names another inode in the
// daemon's view). The canary turns off the path check under the opt-in:
// the daemon then reports the registered path for the attacker's image.
func TestAttackBindMount(t *testing.T) {
	lab := newAttackLab(t)
	probe := lab.role("", "userns", "AUTH_ATTACK_INNER=nsprobe")
	if err := probe.cmd.Wait(); err != nil {
		t.Skipf("SKIP an unprivileged user cannot create a user+mount namespace here: %v", err)
	}
	registered := copyBinary(t, lab.dir, "registered", "\x00registered")
	fake := copyBinary(t, lab.dir, "fake", "\x00attacker")
	fakeHash := fileHash(t, fake)
	runNS := func(cfg daemonConfig) attackResult {
		d := lab.daemon(cfg)
		lab.role("", "userns", "AUTH_ATTACK_INNER=bindmount", "AUTH_ATTACK_FAKE="+fake, "AUTH_ATTACK_REGISTERED="+registered)
		return d.result()
	}
	wantIdentified(t, runNS(daemonConfig{AllowForeignNamespaces: true, Weak: Weakening{NoImageChecks: true}}), registered, fakeHash)
	wantRefused(t, runNS(daemonConfig{}), ReasonForeignNamespace)
	wantRefused(t, runNS(daemonConfig{AllowForeignNamespaces: true}), ReasonImagePathMismatch)
}

// replaceAfterExec runs the attacker's client from path, waits until the
// daemon has read the request, then runs argv (as the same uid) to change
// what is at path before the daemon identifies the client.
func replaceAfterExec(t *testing.T, w Weakening, argv func(path, registered string) []string) (attackResult, string, string) {
	lab := newAttackLab(t)
	path := copyBinary(t, lab.dir, "tool", "\x00attacker")
	hash := fileHash(t, path)
	d := lab.daemon(daemonConfig{Weak: w, WaitIdentify: true})
	lab.start([]string{path}, "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+lab.sock, "AUTH_TEST_MSG="+attackRequest)
	d.expect("read")
	a := argv(path, copyBinary(t, lab.dir, "registered", "\x00registered"))
	if err := lab.startAttr(sameUser(), a).cmd.Wait(); err != nil {
		t.Fatalf("%v: %v", a, err)
	}
	d.step()
	return d.result(), path, hash
}

// TestAttackRenameOver: the attacker runs its client from a path, then
// renames another file over that path. A daemon that trusted the path
// string would now read the registered file there; the running image is
// the old, unlinked inode, which the kernel reports as "(deleted)".
func TestAttackRenameOver(t *testing.T) {
	mv := func(path, registered string) []string { return []string{"/bin/mv", registered, path} }
	res, path, hash := replaceAfterExec(t, Weakening{NoImageChecks: true}, mv)
	wantIdentified(t, res, path, hash)
	if fileHash(t, path) == hash {
		t.Fatal("the path was not replaced")
	}
	res, _, _ = replaceAfterExec(t, Weakening{}, mv)
	wantRefused(t, res, ReasonImageDeleted)
}

// TestAttackDeletedImage: the client's image is deleted while it runs.
func TestAttackDeletedImage(t *testing.T) {
	rm := func(path, _ string) []string { return []string{"/bin/rm", path} }
	res, path, hash := replaceAfterExec(t, Weakening{NoImageChecks: true}, rm)
	wantIdentified(t, res, path, hash)
	res, _, _ = replaceAfterExec(t, Weakening{}, rm)
	wantRefused(t, res, ReasonImageDeleted)
}
