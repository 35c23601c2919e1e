package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/broker"
	"github.com/keychain-auth/keychain-auth/config"
	"github.com/keychain-auth/keychain-auth/transport"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "ask the running daemon for its version, backend, endpoint and uptime",
		Flags: []cli.Flag{socketFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			conn, ch, err := dialDaemon(c.String("socket"))
			if err != nil {
				if ce, ok := err.(*cliError); ok && ce.code == exitNotRunning {
					if c.Bool("json") {
						if perr := printStatusJSON(c, nil, ch); perr != nil {
							return perr
						}
					} else {
						fmt.Fprintln(c.App.Writer, "not running")
					}
				}
				return err
			}
			cl := transport.NewClient(conn)
			defer cl.Close()
			st, err := cl.Status()
			if err != nil {
				return explainRefusal("ask daemon for status", err)
			}
			if c.Bool("json") {
				return printStatusJSON(c, st, ch)
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
				if path := policyPathFor(mode); path != "" {
					if _, err := config.Load(path); err != nil {
						fmt.Fprintf(w, "policy:   does not parse, every request is denied: %v\n", err)
					}
				}
			}
			return nil
		},
	}
}

// printStatusJSON prints the daemon's STATUS answer (nil: no daemon
// answered) with "running" and the original keychain-auth's keys beside
// it, which scripts and its main client's diagnostics read:
// daemon_running, version, mode, config_path, socket_path, requires_sudo.
// mode is the one the daemon reports; without a daemon, the one the client
// chose its endpoint by. config_path is the policy file that applies to
// this user in that mode, socket_path the endpoint this client used, and
// requires_sudo whether policy changes need sudo (system mode).
func printStatusJSON(c *cli.Context, st *transport.StatusInfo, ch endpointChoice) error {
	m := map[string]any{}
	mode := broker.ModeUser
	if ch.system {
		mode = broker.ModeSystem
	}
	if st != nil {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		delete(m, "type")
		if st.Mode != "" {
			mode = st.Mode
		}
	}
	m["running"] = st != nil
	m["daemon_running"] = st != nil
	if st == nil {
		m["version"] = nil // unknown: no daemon answered
	}
	m["mode"] = mode
	m["config_path"] = policyPathFor(mode)
	m["socket_path"] = ch.path
	m["requires_sudo"] = mode == broker.ModeSystem
	return json.NewEncoder(c.App.Writer).Encode(m)
}

// policyPathFor is the policy file that applies to the calling user in
// mode ("" when it cannot be known), found without creating anything.
func policyPathFor(mode string) string {
	if mode == broker.ModeSystem {
		return config.System().PolicyPath(uint32(os.Getuid()))
	}
	dir, err := config.Dir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, config.ConfigFile)
}
