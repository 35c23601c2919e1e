// Command relay is a minimal Go client of the wire protocol for the
// integration tests: it opens one connection to the daemon, then for each
// line on stdin sends it and prints the daemon's answer line on stdout.
// With -write-first it sends every stdin line before reading any answer,
// the way a careless client would.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	socket := flag.String("socket", os.Getenv("KEYCHAIN_AUTH_SOCKET"), "daemon socket")
	writeFirst := flag.Bool("write-first", false, "send all lines before reading")
	flag.Parse()
	conn, err := net.Dial("unix", *socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay: dial:", err)
		os.Exit(6)
	}
	defer conn.Close()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 4<<20)
	answers := bufio.NewReader(conn)
	var lines []string
	for in.Scan() {
		lines = append(lines, in.Text())
		if *writeFirst {
			continue
		}
		if !exchange(conn, answers, lines[len(lines)-1]) {
			os.Exit(1)
		}
	}
	if *writeFirst {
		for _, l := range lines {
			if _, err := fmt.Fprintln(conn, l); err != nil {
				fmt.Fprintln(os.Stderr, "relay: write:", err)
				os.Exit(1)
			}
		}
		for range lines {
			if !readAnswer(answers) {
				os.Exit(1)
			}
		}
	}
}

func exchange(conn net.Conn, answers *bufio.Reader, line string) bool {
	if _, err := fmt.Fprintln(conn, line); err != nil {
		fmt.Fprintln(os.Stderr, "relay: write:", err)
		return false
	}
	return readAnswer(answers)
}

func readAnswer(answers *bufio.Reader) bool {
	resp, err := answers.ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay: read:", err)
		return false
	}
	fmt.Print(resp)
	return true
}
