//go:build linux

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// killDaemon sends SIGKILL, as a crash or `kill -9` would, and waits.
func (e *env) killDaemon() {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.daemon.Process.Signal(syscall.SIGKILL)
	<-e.done
	e.daemon = nil
}

// crashClient writes keys one by one over one connection and records each
// write the daemon acknowledged with success.
type crashClient struct {
	conn net.Conn
	in   *bufio.Reader
}

func (e *env) dialCrashClient(t *testing.T) *crashClient {
	c, err := net.Dial("unix", e.socket)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return &crashClient{conn: c, in: bufio.NewReader(c)}
}

// do sends one line and returns the answer; an error means no answer.
func (c *crashClient) do(line string) (map[string]any, error) {
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c.conn, line); err != nil {
		return nil, err
	}
	raw, err := c.in.ReadString('\n')
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal([]byte(raw), &m)
}

// TestKillDuringWritesKeepsAcknowledgedWrites kills the daemon with SIGKILL
// at random moments while a registered client writes, restarts it, and
// checks that every write it acknowledged is there with its value.
func TestKillDuringWritesKeepsAcknowledgedWrites(t *testing.T) {
	const kills = 16
	e := newEnv(t)
	e.start()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e.mustKA("authorize", self, "crash")
	acked := map[string]string{}
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; round < kills; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d kills within the time bound", round)
		}
		c := e.dialCrashClient(t)
		stop := time.After(time.Duration(20+rand.IntN(300)) * time.Millisecond)
		killed := make(chan struct{})
		go func() { <-stop; e.killDaemon(); close(killed) }()
		for {
			key, val := fmt.Sprintf("k%06d", n), fmt.Sprintf("v%06d-%d", n, rand.Uint64())
			n++
			resp, err := c.do(writeLine("crash", key, val))
			if err != nil {
				break // the daemon died: this write was not acknowledged
			}
			if resp["status"] != "success" {
				t.Fatalf("write %s: %v", key, resp)
			}
			acked[key] = val
		}
		<-killed
		c.conn.Close()
		e.start()
		checkAcked(t, e, acked, round)
	}
	t.Logf("%d kills, %d acknowledged writes of %d attempted", kills, len(acked), n)
	if len(acked) < kills {
		t.Errorf("only %d writes acknowledged: the test did not exercise writes", len(acked))
	}
}

// checkAcked reads the whole service in one prefix read and compares.
func checkAcked(t *testing.T, e *env, acked map[string]string, round int) {
	t.Helper()
	c := e.dialCrashClient(t)
	defer c.conn.Close()
	resp, err := c.do(`{"type":"REQUEST","action":"read","service":"crash","match":"prefix","targets":[""]}`)
	if err != nil || resp["status"] != "success" {
		t.Fatalf("round %d: read after restart: %v %v\n%s", round, resp, err, e.daemonLog())
	}
	have := map[string]string{}
	results, _ := resp["results"].([]any)
	for _, r := range results {
		m, _ := r.(map[string]any)
		k, _ := m["target"].(string)
		v, _ := m["value"].(string)
		have[k] = v
	}
	for k, v := range acked {
		if got, ok := have[k]; !ok || got != v {
			t.Fatalf("round %d: acknowledged write %s lost or changed after SIGKILL (present %v)", round, k, ok)
		}
	}
}
