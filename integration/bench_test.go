//go:build linux

package integration

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkCLIGet runs `keychain-auth get` as a whole process against a
// running daemon (file vault), the way a shell script does: a registered
// launcher script reads a word per line and runs the command for it, so the
// CLI's parent is a script, as the courier rule requires. When a Secret
// Service is available (scripts/with-secret-service.sh), the same launcher
// runs `secret-tool lookup` of an item in gnome-keyring in the same loop as
// the yardstick, and the ratio is reported. Figures: docs/performance.md.
func BenchmarkCLIGet(b *testing.B) {
	e := newEnv(b)
	e.start()
	dir := e.projectDir()
	setter := writeScript(b, dir, "set.sh", "#!/bin/sh\nkeychain-auth put bench db\n")
	e.mustKA("authorize", setter, "bench")
	if r := e.run("bench-value", setter); r.code != 0 {
		b.Fatalf("put: %+v", r)
	}
	haveYardstick := storeSecretToolItem(b)
	launcher := writeScript(b, dir, "launcher.sh", `#!/bin/sh
# One command per input line; a line "end" after its output.
while read what; do
	case $what in
	ka) keychain-auth get bench db ;;
	st) secret-tool lookup service kca-bench key db ;;
	esac
	echo
	echo end
done
`)
	e.mustKA("authorize", launcher, "bench")
	l := e.startLauncher(launcher)
	var measured, yard []time.Duration
	for b.Loop() {
		if haveYardstick {
			t0 := time.Now()
			if got := l.run("st"); got != "bench-value" {
				b.Fatalf("secret-tool lookup: %q", got)
			}
			yard = append(yard, time.Since(t0))
		}
		t0 := time.Now()
		got := l.run("ka")
		measured = append(measured, time.Since(t0))
		if got != "bench-value" {
			b.Fatalf("get: %q\ndaemon: %s", got, e.daemonLog())
		}
	}
	b.ReportMetric(float64(median(measured).Nanoseconds()), "median-ns/op")
	if !haveYardstick {
		b.Log("no Secret Service here (run under scripts/with-secret-service.sh): no secret-tool yardstick")
		return
	}
	b.ReportMetric(float64(median(yard).Nanoseconds()), "secret-tool-median-ns/op")
	b.ReportMetric(float64(median(measured))/float64(median(yard)), "x-secret-tool")
}

// launcher is a running launcher script: one command per line in, its
// output and "end" out.
type launcher struct {
	b   *testing.B
	in  io.Writer
	out *bufio.Reader
}

func (e *env) startLauncher(path string) *launcher {
	cmd := exec.Command(path)
	// The yardstick's secret-tool needs the test session's bus.
	cmd.Env = append(append([]string{}, e.vars...), "DBUS_SESSION_BUS_ADDRESS="+os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	cmd.Dir = e.home
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return &launcher{b: e.t.(*testing.B), in: in, out: bufio.NewReader(out)}
}

// run sends one word and returns what the command printed.
func (l *launcher) run(what string) string {
	if _, err := io.WriteString(l.in, what+"\n"); err != nil {
		l.b.Fatal(err)
	}
	var got strings.Builder
	for {
		line, err := l.out.ReadString('\n')
		if err != nil {
			l.b.Fatalf("launcher: %v", err)
		}
		if line == "end\n" {
			return strings.TrimSpace(got.String())
		}
		got.WriteString(line)
	}
}

// storeSecretToolItem stores the yardstick's item with secret-tool and
// reports whether there is a Secret Service to ask.
func storeSecretToolItem(b *testing.B) bool {
	if os.Getenv("KEYCHAIN_AUTH_TEST_SECRET_SERVICE") != "1" {
		return false
	}
	tool, err := exec.LookPath("secret-tool")
	if err != nil {
		b.Logf("secret-tool not installed (libsecret-tools): %v", err)
		return false
	}
	store := exec.Command(tool, "store", "--label=keychain-auth bench", "service", "kca-bench", "key", "db")
	store.Stdin = strings.NewReader("bench-value")
	if out, err := store.CombinedOutput(); err != nil {
		b.Fatalf("secret-tool store: %v %s", err, out)
	}
	return true
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkCLIStartup is the cost of starting the CLI as a whole process:
// `keychain-auth version`, which talks to no daemon, against a minimal Go
// program (an empty main, built here with the same toolchain) started by
// the same launcher script in the same loop.
func BenchmarkCLIStartup(b *testing.B) {
	e := newEnv(b)
	dir := b.TempDir()
	if err := os.WriteFile(dir+"/main.go", []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dir+"/go.mod", []byte("module minimal\n\ngo 1.22\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", dir+"/minimal", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the minimal program: %v\n%s", err, out)
	}
	launcher := writeScript(b, e.projectDir(), "startup.sh", `#!/bin/sh
while read what; do
	case $what in
	ka) keychain-auth version >/dev/null ;;
	min) `+dir+`/minimal ;;
	esac
	echo end
done
`)
	l := e.startLauncher(launcher)
	var measured, yard []time.Duration
	for b.Loop() {
		t0 := time.Now()
		l.run("min")
		t1 := time.Now()
		l.run("ka")
		yard, measured = append(yard, t1.Sub(t0)), append(measured, time.Since(t1))
	}
	b.ReportMetric(float64(median(measured).Nanoseconds()), "median-ns/op")
	b.ReportMetric(float64(median(yard).Nanoseconds()), "minimal-go-median-ns/op")
	b.ReportMetric(float64(median(measured))/float64(median(yard)), "x-minimal-go")
}
