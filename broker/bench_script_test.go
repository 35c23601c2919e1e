//go:build linux

package broker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/secret"
)

// scriptReads is a Python client of the socket: N exact reads of app/db on
// one connection to the daemon (argv[1]), each followed by a round trip on
// one connection to the echo server (argv[2]); it prints the median of
// each, in nanoseconds.
const scriptReads = `import socket, statistics, sys, time
def dial(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s, s.makefile('rb')
daemon, dr = dial(sys.argv[1])
echo, er = dial(sys.argv[2])
req = b'{"type":"REQUEST","action":"read","service":"app","targets":["db"]}\n'
reads, echoes = [], []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter_ns()
    daemon.sendall(req)
    line = dr.readline()
    t1 = time.perf_counter_ns()
    echo.sendall(req)
    er.readline()
    t2 = time.perf_counter_ns()
    if b'"value":"v"' not in line:
        sys.exit('daemon answered: %r' % line)
    reads.append(t1 - t0)
    echoes.append(t2 - t1)
print(int(statistics.median(reads)), int(statistics.median(echoes)))
`

// BenchmarkExactReadScript is BenchmarkExactRead from a client written in
// Python and run as a registered script (python3 script.py): a script's
// identity is kept on its connection like an executable's. The script
// times both round trips itself, against the same echo server, so the
// interpreter's own cost is in both.
func BenchmarkExactReadScript(b *testing.B) {
	python, err := exec.LookPath("python3")
	if err != nil {
		b.Fatal("python3 is needed (.ci/run installs it)")
	}
	f, path := served(b)
	script := filepath.Join(b.TempDir(), "reads.py")
	if err := os.WriteFile(script, []byte(scriptReads), 0o644); err != nil {
		b.Fatal(err)
	}
	img, err := auth.HashFile(script)
	if err != nil {
		b.Fatal(err)
	}
	if err := config.Update(f.cfgPath, func(c *config.Config) error {
		e := config.NewEntry(img.Path, img.Hash, time.Now())
		e.GrantRead("app")
		c.RegisteredBinaries = append(c.RegisteredBinaries, e)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	steady()
	if err := f.store.Set("app", []backend.Item{{Key: "db", Value: secret.New("v")}}); err != nil {
		b.Fatal(err)
	}
	echo := echoServer(b)
	b.ResetTimer()
	out, err := exec.Command(python, script, path, echo, strconv.Itoa(b.N)).Output()
	if err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	b.StopTimer()
	fields := strings.Fields(string(out))
	if len(fields) != 2 {
		b.Fatalf("script printed %q", out)
	}
	read, err1 := strconv.ParseFloat(fields[0], 64)
	echoNs, err2 := strconv.ParseFloat(fields[1], 64)
	if err1 != nil || err2 != nil || echoNs <= 0 {
		b.Fatalf("script printed %q", out)
	}
	b.ReportMetric(read, "median-ns/op")
	b.ReportMetric(echoNs, "yardstick-median-ns/op")
	b.ReportMetric(read/echoNs, "x-yardstick")
}
