// Command winclient is a compiled client of the wire protocol for the
// Windows end-to-end test (integration/windows_serve_test.go). On Windows
// keychain-auth's own CLI is refused courier_unverifiable for item
// requests, so a registered program is what talks to the daemon there;
// this is the smallest such program: the project's Go client over
// transport.Dial (the pipe, with its server-user check).
//
//	winclient read SERVICE TARGET    prints the value
//	winclient write SERVICE TARGET   value from stdin
//
// Exit codes follow the CLI's: 0 ok, 1 error, 3 denied, 4 not found,
// 5 not registered, 6 no daemon. The reason goes to stderr.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/keychain-auth/keychain-auth/secret"
	"github.com/keychain-auth/keychain-auth/transport"
)

func main() {
	if len(os.Args) != 4 || (os.Args[1] != transport.ActionRead && os.Args[1] != transport.ActionWrite) {
		fmt.Fprintln(os.Stderr, "usage: winclient read|write SERVICE TARGET")
		os.Exit(2)
	}
	req := &transport.Request{Action: os.Args[1], Service: os.Args[2], Targets: []string{os.Args[3]}}
	if req.Action == transport.ActionWrite {
		v, err := io.ReadAll(os.Stdin)
		if err != nil {
			fail(1, "read stdin: %v", err)
		}
		req.Values = []secret.Value{secret.New(string(v))}
	}
	endpoint, err := transport.Endpoint("")
	if err != nil {
		fail(1, "%v", err)
	}
	conn, err := transport.Dial(endpoint)
	if errors.Is(err, transport.ErrDaemonNotRunning) {
		fail(6, "%v", err)
	} else if err != nil {
		fail(1, "%v", err)
	}
	c := transport.NewClient(conn)
	defer c.Close()
	resp, err := c.Do(req)
	if err != nil {
		fail(1, "%v", err)
	}
	report(req, resp)
}

// report prints the answer and exits with the CLI's code for it.
func report(req *transport.Request, resp *transport.Response) {
	switch {
	case resp.Reason == transport.ReasonPendingApproval:
		fail(5, "%s", resp.Reason)
	case resp.Status == transport.StatusDenied:
		fail(3, "%s", resp.Reason)
	case resp.Status != transport.StatusSuccess:
		fail(1, "%s %s", resp.Status, resp.Reason)
	case req.Action == transport.ActionRead && (len(resp.Results) == 0 || !resp.Results[0].HasValue):
		fail(4, "not found")
	case req.Action == transport.ActionRead:
		fmt.Print(resp.Results[0].Value.Reveal())
	}
	os.Exit(0)
}

func fail(code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "winclient: "+format+"\n", a...)
	os.Exit(code)
}
