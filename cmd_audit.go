package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/config"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "show the most recent decisions from the audit log",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 20, Usage: "how many lines"},
			&cli.BoolFlag{Name: "json", Usage: "print the JSON lines as stored"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 || c.Int("n") < 1 {
				return usageError("audit takes no arguments and -n N with N ≥ 1")
			}
			recs, err := auditRecords(c.Int("n"))
			if err != nil {
				return err
			}
			for _, r := range recs {
				if c.Bool("json") {
					if err := json.NewEncoder(c.App.Writer).Encode(r); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintln(c.App.Writer, auditLine(r))
			}
			return nil
		},
	}
}

// auditLine renders one record for a person. Every field a caller chooses
// (key names, its own path) goes through printable: an unregistered program
// could otherwise put a newline and a forged "success" line, or terminal
// escapes, into what the admin reads.
func auditLine(r audit.Record) string {
	who := printable(r.Path)
	if r.Courier != nil {
		who += " (via " + printable(filepath.Base(r.Courier.Path)) + ")"
	}
	targets := make([]string, len(r.Targets))
	for i, t := range r.Targets {
		targets[i] = printable(t)
	}
	what := strings.TrimSpace(r.Action + " " + printable(r.Service) + " " + strings.Join(targets, ","))
	out := fmt.Sprintf("%s pid=%d %s %s: %s", r.Time.Local().Format(time.RFC3339), r.PID, who, what, printable(r.Status))
	if r.Reason != "" {
		out += " (" + printable(r.Reason) + ")"
	}
	return out
}

// auditRecords reads the last n records of the audit log in scope: the
// user's own (user mode), the target user's (system mode, as root), or the
// caller's as the daemon returns it (system mode, without root).
func auditRecords(n int) ([]audit.Record, error) {
	switch {
	case scope != nil && scope.viaDaemon:
		v, err := scope.fetchView()
		if err != nil {
			return nil, err
		}
		recs := make([]audit.Record, 0, len(v.Audit))
		for _, raw := range v.Audit[max(0, len(v.Audit)-n):] {
			var r audit.Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("audit line from the daemon: %w", err)
			}
			recs = append(recs, r)
		}
		return recs, nil
	case scope != nil && scope.system:
		return audit.Tail(scope.systemAuditPath(), n)
	}
	dir, err := config.DataDir()
	if err != nil {
		return nil, err
	}
	return audit.Tail(filepath.Join(dir, "audit.log"), n)
}
