//go:build linux

package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Known limitations (SECURITY.md): each test asserts that an attack a
// per-user daemon cannot stop STILL WORKS, with daemon, victim and
// attacker all running as uid 65534. When one of these fails, the
// limitation is gone: update SECURITY.md and turn the test around.

// nobodyTool copies the relay into a uid-65534 project directory.
func (e *env) nobodyTool(name string) string {
	e.t.Helper()
	dir := filepath.Join(e.home, "proj")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, 65534, 65534)
	p := filepath.Join(dir, name)
	copyFile(e.t, bin.relay, p, 0o755)
	os.Chown(p, 65534, 65534)
	return p
}

func (e *env) mustNobodyKA(args ...string) string {
	e.t.Helper()
	r := e.nobodyKA("", args...)
	if r.code != 0 {
		e.t.Fatalf("keychain-auth %v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// TestLimitationPtraceApprovedClient: without Yama, a same-uid process
// attaches to a registered, running client and reads its memory (and could
// write it: the same permission check guards process_vm_writev).
func TestLimitationPtraceApprovedClient(t *testing.T) {
	e := newNobodyEnv(t)
	e.startAsNobody()
	tool := e.nobodyTool("tool")
	e.mustNobodyKA("register", tool)
	e.mustNobodyKA("grant", tool, "--read", "tool")
	cmd := exec.Command(tool, "-socket", e.socket)
	cmd.Env, cmd.SysProcAttr = e.vars, nobodyCred
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); cmd.Process.Kill(); cmd.Wait() }()
	in.Write([]byte(readTool + "\n"))
	line, _ := bufio.NewReader(out).ReadString('\n')
	wantAnswer(t, "approved client", line, "")
	if ok, msg := e.probe(t, "ptrace", strconv.Itoa(cmd.Process.Pid)); !ok {
		t.Fatalf("same-uid ptrace of an approved client no longer works (%s): update SECURITY.md", msg)
	}
}

// TestLimitationScrubbedPreload: a preload library that erases LD_PRELOAD
// from its process's environment block before main runs is invisible to the
// daemon's hygiene check; the registered script is allowed.
func TestLimitationScrubbedPreload(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("SKIPPED LOUDLY: no cc to build the preload library; the scrubbed-LD_PRELOAD limitation is untested")
	}
	e := newNobodyEnv(t)
	e.startAsNobody()
	dir := filepath.Dir(e.nobodyTool("unused"))
	lib := filepath.Join(dir, "scrub.so")
	src := filepath.Join(dir, "scrub.c")
	marker := filepath.Join(dir, "preloaded")
	code := `#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void scrub(void) {
	char *v = getenv("LD_PRELOAD");
	if (v) memset(v - strlen("LD_PRELOAD="), 'X', strlen("LD_PRELOAD")); /* in the block /proc/PID/environ shows */
	unsetenv("LD_PRELOAD");
	int fd = open("` + marker + `", O_WRONLY|O_CREAT, 0600);
	if (fd >= 0) close(fd);
}
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v: %s", err, b)
	}
	os.Chmod(lib, 0o755)
	script := filepath.Join(dir, "fetch.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec 2>&1\nkeychain-auth get tool k\necho rc=$?\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(script, 65534, 65534)
	e.mustNobodyKA("register", script)
	e.mustNobodyKA("grant", script, "--read", "tool")
	r := e.runEnv([]string{"LD_PRELOAD=" + lib}, nobodyCred, "", script)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the preload library did not run: %v (%s)", err, r.stdout)
	}
	// rc=0 or 4 (allowed; the key does not exist); a hygiene denial is 3.
	if !strings.Contains(r.stdout, "rc=0") && !strings.Contains(r.stdout, "rc=4") {
		t.Fatalf("scrubbed LD_PRELOAD is now detected (%q): update SECURITY.md", r.stdout)
	}
}

// TestLimitationSelfApproval: the policy file belongs to the user, so a
// same-user program approves and grants itself with the CLI and reads
// another program's secret.
func TestLimitationSelfApproval(t *testing.T) {
	e := newNobodyEnv(t)
	e.startAsNobody()
	victim := e.nobodyTool("victim")
	e.mustNobodyKA("register", victim)
	e.mustNobodyKA("grant", victim, "--write", "tool")
	put := `{"type":"REQUEST","action":"write","service":"tool","targets":["k"],"values":["` + marker + `"]}`
	r := e.runEnv(nil, nobodyCred, put+"\n", victim, "-socket", e.socket, "-write-first")
	wantAnswer(t, "victim write", r.stdout, "")

	evil := e.nobodyTool("evil")
	r = e.runEnv(nil, nobodyCred, readTool+"\n", evil, "-socket", e.socket, "-write-first")
	wantAnswer(t, "evil before approving itself", r.stdout, "unregistered_binary_pending_approval")
	e.mustNobodyKA("approve", sha256File(t, evil), evil)
	e.mustNobodyKA("grant", evil, "--read", "tool")
	r = e.runEnv(nil, nobodyCred, readTool+"\n", evil, "-socket", e.socket, "-write-first")
	if !strings.Contains(r.stdout, marker) {
		t.Fatalf("self-approval no longer yields the secret (%s): update SECURITY.md", r.stdout)
	}
}
