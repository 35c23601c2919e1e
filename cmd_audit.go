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
			dir, err := config.DataDir()
			if err != nil {
				return err
			}
			recs, err := audit.Tail(filepath.Join(dir, "audit.log"), c.Int("n"))
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
