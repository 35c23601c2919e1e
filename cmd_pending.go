package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/config"
)

func listPendingCommand() *cli.Command {
	return &cli.Command{
		Name:  "list-pending",
		Usage: "show programs that were refused and wait for approval",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("list-pending takes no arguments")
			}
			recs, err := pendingRecords()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if recs == nil {
					recs = []config.PendingRecord{}
				}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(recs)
			}
			printPending(c, recs)
			return nil
		},
	}
}

func printPending(c *cli.Context, recs []config.PendingRecord) {
	w := c.App.Writer
	if len(recs) == 0 {
		fmt.Fprintln(w, "No pending binaries waiting for authorization.")
		return
	}
	// The original's text exactly (values from column 13, a 60-dash rule):
	// scripts parse it. printable only changes a hostile path or argument.
	fmt.Fprintf(w, "Found %d pending binaries waiting for authorization:\n\n", len(recs))
	for _, r := range recs {
		fmt.Fprintf(w, "%-12s%s\n", "Path:", printable(r.Path))
		fmt.Fprintf(w, "%-12s%s\n", "Hash:", r.Hash)
		fmt.Fprintf(w, "%-12s%s\n", "Command:", printable(r.CommandLine.String()))
		fmt.Fprintf(w, "%-12s%s\n", "Attempted:", r.Timestamp.Local().Format(time.RFC3339))
		fmt.Fprintln(w, strings.Repeat("-", 60))
	}
	fmt.Fprintln(c.App.ErrWriter, "keychain-auth: hint: approve one with `keychain-auth approve HASH`")
}
