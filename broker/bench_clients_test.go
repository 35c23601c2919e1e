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
	path := servedForReads(b)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	const total = 3200 // requests per client count per round
	counts := []int{1, 2, 4, 8, 16}
	type loader struct {
		in  *bufio.Writer
		out *bufio.Scanner
	}
	loaders := map[int]loader{}
	for _, n := range counts {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "BROKER_BENCH_CLIENT=1", "BROKER_BENCH_SOCK="+path,
			"BROKER_BENCH_N="+strconv.Itoa(n), "BROKER_BENCH_PER="+strconv.Itoa(total/n))
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
			b.Fatalf("load client of %d: %q", n, l.out.Text())
		}
		loaders[n] = l
	}
	rates := map[int][]float64{}
	for b.Loop() {
		for _, n := range counts {
			l := loaders[n]
			l.in.WriteString("go\n")
			l.in.Flush()
			if !l.out.Scan() {
				b.Fatalf("load client of %d ended", n)
			}
			ns, err := strconv.ParseInt(l.out.Text(), 10, 64)
			if err != nil {
				b.Fatalf("load client of %d: %s", n, l.out.Text())
			}
			rates[n] = append(rates[n], float64(total/n*n)/(float64(ns)/1e9))
		}
	}
	reportCurve(b, counts, rates)
}
