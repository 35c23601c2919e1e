package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "ask the running daemon for its version, backend, endpoint and uptime",
		Flags: []cli.Flag{socketFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			cl, err := connect(c)
			if err != nil {
				if ce, ok := err.(*cliError); ok && ce.code == exitNotRunning {
					if c.Bool("json") {
						fmt.Fprintln(c.App.Writer, `{"running":false}`)
					} else {
						fmt.Fprintln(c.App.Writer, "not running")
					}
				}
				return err
			}
			defer cl.Close()
			st, err := cl.Status()
			if err != nil {
				return fmt.Errorf("ask daemon for status: %w", err)
			}
			if c.Bool("json") {
				return printStatusJSON(c, st)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "running\nversion:  %s\nbackend:  %s\nat rest:  %s\nendpoint: %s\nuptime:   %s\n",
				st.Version, st.Backend, st.AtRest, st.Endpoint, (time.Duration(st.UptimeSeconds) * time.Second).String())
			if st.Locked {
				fmt.Fprintln(w, "locked:   yes (unlock with `keychain-auth unlock`)")
			}
			if st.Warning != "" {
				fmt.Fprintf(w, "warning:  %s\n", st.Warning)
			}
			mode := st.Mode
			if mode == "" {
				mode = "user"
			}
			fmt.Fprintf(w, "mode:     %s\n", mode)
			if mode == "user" {
				fmt.Fprintf(w, "note:     %s\n", userModeNote)
			}
			return nil
		},
	}
}

// printStatusJSON prints the daemon's STATUS answer with "running": true added.
func printStatusJSON(c *cli.Context, st any) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	delete(m, "type")
	m["running"] = true
	return json.NewEncoder(c.App.Writer).Encode(m)
}
