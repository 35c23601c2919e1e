package auth

import (
	"strings"
	"testing"
)

// TestWindowsPipeOwner: the owner of a pipe connection is the real client
// process (its pid and image path), for the broker's load shedding.
func TestWindowsPipeOwner(t *testing.T) {
	exe := clientCopy(t, tempDir(t), "owner.exe")
	a := connectClient(t, exe, "stay")
	o, err := PipeOwner(a.conn)
	if err != nil {
		t.Fatal(err)
	}
	if o.PID != a.cmd.Process.Pid || !strings.EqualFold(o.Exe, exe) {
		t.Fatalf("owner %+v; want pid %d, exe %s", o, a.cmd.Process.Pid, exe)
	}
}
