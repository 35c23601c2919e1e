//go:build linux

package broker

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain runs the load client of BenchmarkConcurrentReadsProcess when
// the test binary is started as one; otherwise the tests.
func TestMain(m *testing.M) {
	if os.Getenv("BROKER_BENCH_CLIENT") == "1" {
		loadClient()
		return
	}
	os.Exit(m.Run())
}

// loadClient holds BROKER_BENCH_N connections to BROKER_BENCH_SOCK; for
// each "go" line on stdin every connection makes BROKER_BENCH_PER exact
// reads at once, and the client prints the nanoseconds the round took.
func loadClient() {
	n, _ := strconv.Atoi(os.Getenv("BROKER_BENCH_N"))
	per, _ := strconv.Atoi(os.Getenv("BROKER_BENCH_PER"))
	conns := make([]*bufio.ReadWriter, n)
	for i := range conns {
		c, err := net.Dial("unix", os.Getenv("BROKER_BENCH_SOCK"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		conns[i] = bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	}
	ask := func(rw *bufio.ReadWriter) error {
		rw.WriteString(readReq)
		if err := rw.Flush(); err != nil {
			return err
		}
		line, err := rw.ReadString('\n')
		if err == nil && !strings.Contains(line, `"value":"v"`) {
			err = fmt.Errorf("answer %q", line)
		}
		return err
	}
	for _, rw := range conns { // two requests each: kept identities
		for j := 0; j < 2; j++ {
			if err := ask(rw); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		errs := make(chan error, n)
		t0 := time.Now()
		for _, rw := range conns {
			go func(rw *bufio.ReadWriter) {
				for j := 0; j < per; j++ {
					if err := ask(rw); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}(rw)
		}
		for range conns {
			if err := <-errs; err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println(time.Since(t0).Nanoseconds())
	}
}

// BenchmarkConcurrentReadsProcess is BenchmarkConcurrentReads with the
// clients in another process (one per client count, each holding its
// connections), as separate programs meet the daemon: requests per second
// for 1, 2, 4, 8 and 16 clients and each as a multiple of one client's,
// medians over rounds that run every count in turn.
func BenchmarkConcurrentReadsProcess(b *testing.B) {
	processCurve(b, false)
}

// BenchmarkConcurrentReadsProcesses is the same with every client a process
// of its own holding one connection (16 processes for 16 clients), as
// separate command-line programs meet the daemon; the time of a round runs
// from the first "go" to the last answer.
func BenchmarkConcurrentReadsProcesses(b *testing.B) {
	processCurve(b, true)
}

// loader is a load client process: "go" on in starts a round, out gives
// its nanoseconds.
type loader struct {
	in  *bufio.Writer
	out *bufio.Scanner
}

func startLoader(b *testing.B, exe, path string, conns, per int) loader {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "BROKER_BENCH_CLIENT=1", "BROKER_BENCH_SOCK="+path,
		"BROKER_BENCH_N="+strconv.Itoa(conns), "BROKER_BENCH_PER="+strconv.Itoa(per))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	l := loader{bufio.NewWriter(stdin), bufio.NewScanner(stdout)}
	if !l.out.Scan() || l.out.Text() != "ready" {
		b.Fatalf("load client of %d: %q", conns, l.out.Text())
	}
	return l
}

// processCurve runs the rounds with, for each client count n, one load
// process holding n connections, or (oneEach) n processes of one each. The
// same curve against the bare echo server, in the same rounds, is the
// yardstick: what the machine gives separate processes doing round trips
// over unix sockets at all.
func processCurve(b *testing.B, oneEach bool) {
	targets := []string{servedForReads(b), echoServer(b)}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	const total = 3200 // requests per client count per round
	counts := []int{1, 2, 4, 8, 16}
	type key struct{ target, n int }
	loaders := map[key][]loader{}
	for ti, path := range targets {
		for _, n := range counts {
			k := key{ti, n}
			if oneEach {
				for range n {
					loaders[k] = append(loaders[k], startLoader(b, exe, path, 1, total/n))
				}
			} else {
				loaders[k] = []loader{startLoader(b, exe, path, n, total/n)}
			}
		}
	}
	rates := []map[int][]float64{{}, {}}
	for b.Loop() {
		for _, n := range counts {
			for ti := range targets {
				ls := loaders[key{ti, n}]
				t0 := time.Now()
				for _, l := range ls {
					l.in.WriteString("go\n")
					l.in.Flush()
				}
				for _, l := range ls {
					if !l.out.Scan() {
						b.Fatalf("load client of %d ended", n)
					}
					if _, err := strconv.ParseInt(l.out.Text(), 10, 64); err != nil {
						b.Fatalf("load client of %d: %s", n, l.out.Text())
					}
				}
				// From the first "go" to the last answer: the loaders' own
				// times would leave out their staggered starts.
				rates[ti][n] = append(rates[ti][n], float64(total/n*n)/time.Since(t0).Seconds())
			}
		}
	}
	reportCurve(b, "", counts, rates[0])
	reportCurve(b, "echo-", counts, rates[1])
}
