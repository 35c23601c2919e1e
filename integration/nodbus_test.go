//go:build linux

package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDBusLaunch writes a dbus-launch into a directory put first on PATH;
// every run of it appends its arguments to the returned record file.
func fakeDBusLaunch(t *testing.T) (dir, record string) {
	dir = t.TempDir()
	record = filepath.Join(dir, "dbus-launch.record")
	writeScript(t, dir, "dbus-launch", "#!/bin/sh\necho \"dbus-launch $*\" >> '"+record+"'\nexit 1\n")
	return dir, record
}

// fakeBus listens where DBUS_SESSION_BUS_ADDRESS points and counts the
// connections made to it.
func fakeBus(t *testing.T) (address string, conns *atomic.Int32) {
	path := filepath.Join(t.TempDir(), "bus")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return "unix:path=" + path, conns
}

// everyClientCommand runs each client and admin command against a daemon
// on the file backend, then the offline ones with the daemon stopped.
func everyClientCommand(t *testing.T, e *env) {
	tool := filepath.Join(e.projectDir(), "tool")
	copyFile(t, bin.relay, tool, 0o755)
	e.start()
	steps := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"register", tool}},
		{"", []string{"grant", tool, "--read", "s", "--write", "s"}},
		{"", []string{"revoke", tool, "--write", "s"}},
		{"", []string{"authorize", tool, "s"}},
		{"", []string{"upgrade", tool}},
		{"", []string{"check", tool, "s"}},
		{"", []string{"policy"}},
		{"", []string{"policy", "--json"}},
		{"", []string{"list-pending"}},
		{"", []string{"status"}},
		{"", []string{"status", "--json"}},
		{"v", []string{"put", "s", "k"}},
		{"", []string{"get", "s", "k"}},
		{"", []string{"ls", "s"}},
		{"", []string{"delete", "s", "k"}},
		{"", []string{"lock"}},
		{"\n", []string{"unlock"}},
		{"pw\npw\n", []string{"passwd"}},
		{"", []string{"audit"}},
		{"", []string{"version"}},
		{"", []string{"unregister", tool}},
	}
	for _, s := range steps {
		// Exit codes vary (get from an unregistered shell is 5); only side
		// effects matter here.
		e.ka(s.stdin, s.args...)
	}
	e.stop()
	e.ka("pw\nnew\nnew\n", "passwd")
	e.ka("new\n", "migrate", "--from", "file", "--to", "file", "--to-dir", filepath.Join(e.home, "copy"))
	for _, args := range [][]string{{"get", "s", "k"}, {"status"}, {"lock"}, {"unlock"}} {
		e.ka("", args...)
	}
}

func TestClientCommandsLaunchNoBus(t *testing.T) {
	dir, record := fakeDBusLaunch(t)
	e0 := newEnv(t)
	e0.vars = append(e0.vars, "PATH="+dir+":"+bin.dir+":/usr/bin:/bin")
	// Canary: found first on PATH, the fake records when it runs.
	if r := e0.run("", "/bin/sh", "-c", "dbus-launch --canary"); r.code != 1 {
		t.Fatalf("canary run of the fake dbus-launch: %+v", r)
	}
	if b, _ := os.ReadFile(record); !strings.Contains(string(b), "--canary") {
		t.Fatalf("the fake dbus-launch did not record a run: %q", b)
	}
	os.Remove(record)

	e := newEnv(t)
	// No session bus at all: a client that wanted one would try to launch it.
	e.vars = append(e.vars, "PATH="+dir+":"+bin.dir+":/usr/bin:/bin", "DISPLAY=:99")
	everyClientCommand(t, e)
	if b, err := os.ReadFile(record); err == nil {
		t.Errorf("a command ran dbus-launch:\n%s", b)
	}
}

func TestClientCommandsConnectToNoBus(t *testing.T) {
	address, conns := fakeBus(t)
	// Canary: the fake bus counts a connection.
	c, err := net.Dial("unix", strings.TrimPrefix(address, "unix:path="))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for i := 0; conns.Load() == 0 && i < 100; i++ {
		waitABit()
	}
	if conns.Load() != 1 {
		t.Fatalf("the fake bus did not count the canary connection (%d)", conns.Load())
	}
	conns.Store(0)

	e := newEnv(t, "DBUS_SESSION_BUS_ADDRESS="+address)
	everyClientCommand(t, e)
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the session bus from client commands", n)
	}
}

func waitABit() { time.Sleep(10 * time.Millisecond) }
