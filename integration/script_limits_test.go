//go:build linux

package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Known limitations of script identity (SECURITY.md, "What it does not
// defend against"), asserted so that the docs change the day one stops
// working, each beside what closes it.

// TestLimitationFakeCLIOnPath: a program that starts a registered script
// can put a fake keychain-auth earlier on PATH; the fake execs the real CLI
// with its output sent to the attacker, and the real CLI's parent is still
// the script, so the courier rule relays. What closes it: the script calls
// the CLI by its absolute path (register says so).
func TestLimitationFakeCLIOnPath(t *testing.T) {
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	byName := writeScript(t, dir, "by-name.sh", "#!/bin/sh\nif [ \"$1\" = put ]; then keychain-auth put svc key; exit $?; fi\nv=$(keychain-auth get svc key) || exit $?\necho \"read ${#v} bytes\"\n")
	byPath := writeScript(t, dir, "by-path.sh", "#!/bin/sh\nv=$("+bin.keychainAuth+" get svc key) || exit $?\necho \"read ${#v} bytes\"\n")
	r := e.ka("", "authorize", byName, "svc")
	if r.code != 0 || !strings.Contains(r.stderr, "absolute path") {
		t.Errorf("register did not recommend calling the CLI by its absolute path: %+v", r)
	}
	e.mustKA("authorize", byPath, "svc")
	if r := e.runIn(dir, "the-value", byName, "put"); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	evil := filepath.Join(e.home, "evil")
	os.Mkdir(evil, 0o755)
	stolen := filepath.Join(e.home, "stolen")
	writeScript(t, evil, "keychain-auth", "#!/bin/sh\nexec "+bin.keychainAuth+" \"$@\" >"+stolen+"\n")
	fakePath := "PATH=" + evil + ":" + bin.dir + ":/usr/bin:/bin"

	e.runWith(dir, []string{fakePath}, nil, "", byName)
	if b, _ := os.ReadFile(stolen); strings.TrimSpace(string(b)) != "the-value" {
		t.Fatalf("known limitation changed: the fake CLI on PATH did not get the value (%q); update SECURITY.md and this test", b)
	}
	os.Remove(stolen)
	if r := e.runWith(dir, []string{fakePath}, nil, "", byPath); r.code != 0 || !strings.Contains(r.stdout, "read 9 bytes") {
		t.Errorf("script calling the CLI by absolute path: %+v", r)
	}
	if _, err := os.Stat(stolen); err == nil {
		t.Error("the fake CLI ran for a script that calls the CLI by absolute path")
	}
}

// TestLimitationPythonUserSite: a registered python3 script whose #! line
// lacks -I runs the user's usercustomize.py (and .pth files) first, as the
// script. What closes it: -I in the #! line (register suggests it, and the
// entry then pins it), with which the same file is ignored.
func TestLimitationPythonUserSite(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is needed (.ci/run installs python3)")
	}
	e := newEnv(t)
	e.start()
	dir := e.projectDir()
	body := "import subprocess, sys\nargs = ['put', 'svc', 'key'] if sys.argv[1:] == ['put'] else ['get', 'svc', 'key']\nsys.exit(subprocess.run(['keychain-auth'] + args, stdout=subprocess.DEVNULL).returncode)\n"
	plain := writeScript(t, dir, "plain.py", "#!/usr/bin/python3\n"+body)
	isolated := writeScript(t, dir, "isolated.py", "#!/usr/bin/python3 -I\n"+body)
	r := e.ka("", "authorize", plain, "svc")
	if r.code != 0 || !strings.Contains(r.stderr, "add -I") {
		t.Errorf("register did not suggest -I: %+v", r)
	}
	e.mustKA("authorize", isolated, "svc")
	if r := e.runIn(dir, "the-value", plain, "put"); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	site := e.runIn(dir, "", "/usr/bin/python3", "-c", "import site; print(site.getusersitepackages())")
	userSite := strings.TrimSpace(site.stdout)
	if site.code != 0 || !strings.HasPrefix(userSite, e.home) {
		t.Fatalf("user site: %+v", site)
	}
	if err := os.MkdirAll(userSite, 0o755); err != nil {
		t.Fatal(err)
	}
	stolen := filepath.Join(e.home, "stolen")
	if err := os.WriteFile(filepath.Join(userSite, "usercustomize.py"), []byte(strings.ReplaceAll(plantedModule, `os.environ["KCA_STOLEN"]`, `"`+stolen+`"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.runIn(dir, "", plain)
	if b, _ := os.ReadFile(stolen); strings.TrimSpace(string(b)) != "the-value" {
		t.Fatalf("known limitation changed: usercustomize.py did not read the value as the script without -I (%q); update SECURITY.md and this test", b)
	}
	os.Remove(stolen)
	if r := e.runIn(dir, "", isolated); r.code != 0 {
		t.Errorf("the -I script: %+v", r)
	}
	if _, err := os.Stat(stolen); err == nil {
		t.Error("usercustomize.py ran in the script started with -I")
	}
}

// TestLimitationNodeInspector: SIGUSR1 from any program of the user opens
// the inspector of a running registered node script (on 127.0.0.1:9229),
// through which code runs inside it with no tracer. The daemon cannot see
// it. What closes it: node's --disable-sigusr1 in the #! line where the
// installed node has it (register suggests it); this machine's node is
// checked and reported.
func TestLimitationNodeInspector(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed (.ci/run installs nodejs)")
	}
	e := newEnv(t)
	dir := e.projectDir()
	script := writeScript(t, dir, "wait.js", "#!"+node+"\nsetTimeout(() => {}, 60000);\nconsole.log('ready');\n")
	r := e.ka("", "register", script)
	if r.code != 0 || !strings.Contains(r.stderr, "--disable-sigusr1") {
		t.Errorf("register did not mention --disable-sigusr1: %+v", r)
	}
	cmd := exec.Command(script)
	cmd.Env = e.vars
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("node script: %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			if strings.Contains(s.Text(), "Debugger listening on ws://") {
				found <- s.Text()
				return
			}
		}
		close(found)
	}()
	select {
	case line, ok := <-found:
		if !ok {
			t.Fatal("known limitation changed: SIGUSR1 did not open the inspector; update SECURITY.md and this test")
		}
		t.Logf("inspector opened by SIGUSR1: %s", line)
	case <-time.After(10 * time.Second):
		t.Fatal("known limitation changed: no inspector within 10 s of SIGUSR1; update SECURITY.md and this test")
	}
	help, _ := exec.Command(node, "--help").Output()
	t.Logf("this node (%s) has --disable-sigusr1: %v", node, strings.Contains(string(help), "--disable-sigusr1"))
}
