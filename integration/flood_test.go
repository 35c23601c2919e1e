//go:build linux

package integration

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// flooder is an unregistered program (python3 -c) that opens connections
// to the daemon as fast as it is let, never reads, and keeps up to 200
// open, until its stdin closes.
const flooder = `
import os, socket, sys, threading, time
path, socks, n = sys.argv[1], [], 0
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
        n += 1
        if n == 100:
            print("flooding", flush=True)
    except OSError:
        time.sleep(0.01)
    if len(socks) > 200:
        socks.pop(0).close()
    time.sleep(0.002)
`

// TestFloodFromUnregisteredProgram: while an unregistered program holds
// every connection slot it can get, a registered program keeps being
// served, because connections on which nothing was allowed are shed for a
// newcomer. The daemon log must show that it shed connections: that is the
// proof the flood filled every slot (without shedding the registered
// program would have been answered too_many_connections).
func TestFloodFromUnregisteredProgram(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 for the flooding program")
	}
	e := newEnv(t)
	e.start("--max-conns", "8")
	tool := e.registeredTool()
	wantAnswer(t, "before the flood (canary)", e.askOnce(tool), "")

	cmd := exec.Command(py, "-c", flooder, e.socket)
	cmd.Env = e.vars
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() { ready <- bufio.NewScanner(out).Scan() }()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the flooder did not get going")
	}
	for i := 0; i < 20; i++ {
		wantAnswer(t, "during the flood", e.askOnce(tool), "")
	}
	if log := e.daemonLog(); !strings.Contains(log, "connection shed to make room") {
		t.Fatalf("the daemon never shed a connection: the flood did not fill the slots, so this test proves nothing\n%s", tail(log, 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
