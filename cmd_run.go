package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/transport"
)

// repeated is a flag value that collects every occurrence as written
// (urfave/cli's StringSliceFlag would also split at commas, which a key
// name or a file name may hold).
type repeated []string

func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }
func (r *repeated) String() string     { return strings.Join(*r, " ") }

func runCommand() *cli.Command {
	return &cli.Command{
		Name: "run",
		Usage: "start PROGRAM with secrets in its environment: as the calling script (what its entry may read), " +
			"or as PROGRAM where `grant PROGRAM --run SERVICE` allows it",
		ArgsUsage: "[--env NAME=SERVICE/TARGET]... [--env-file FILE]... -- PROGRAM [ARGS...]",
		Description: "--env NAME=SERVICE/TARGET sets NAME to that secret; SERVICE/PREFIX* sets NAME_SUFFIX for every key under PREFIX\n" +
			"(SUFFIX upper-cased, characters other than A-Z, 0-9 and _ turned into _). An env file holds NAME=ka://SERVICE/TARGET\n" +
			"or NAME=ka://SERVICE/PREFIX* lines, NAME=literal lines (passed through as written), blank lines and # comments.\n" +
			"PROGRAM replaces keychain-auth (exec): its exit status and signals are its own. Values set this way can be read by\n" +
			"every program of your user while PROGRAM runs (/proc/PID/environ); see SECURITY.md, \"run\".",
		Flags: []cli.Flag{
			&cli.GenericFlag{Name: "env", Value: &repeated{}, Usage: "NAME=SERVICE/TARGET (or SERVICE/PREFIX*) to set (repeatable)"},
			&cli.GenericFlag{Name: "env-file", Value: &repeated{}, Usage: "file of NAME=ka://SERVICE/TARGET lines (repeatable; --env wins)"},
			socketFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError("run takes [--env NAME=SERVICE/TARGET]... [--env-file FILE]... -- PROGRAM [ARGS...]")
			}
			refs, err := runRefs(c)
			if err != nil {
				return err
			}
			return runProgram(c, refs, c.Args().Slice())
		},
	}
}

// runRefs collects the variables to set: env files in order, then --env.
func runRefs(c *cli.Context) ([]envRef, error) {
	var refs []envRef
	for _, path := range *c.Generic("env-file").(*repeated) {
		r, err := readEnvFile(path)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r...)
	}
	for _, s := range *c.Generic("env").(*repeated) {
		r, err := parseEnvFlag(s)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 {
		return nil, usageError("run needs at least one --env or --env-file")
	}
	return refs, nil
}

// runProgram opens PROGRAM, asks the daemon for the values, and executes
// PROGRAM with them. It returns only on failure.
func runProgram(c *cli.Context, refs []envRef, argv []string) error {
	prog, err := openProgram(argv[0])
	if err != nil {
		return err
	}
	defer prog.close()
	got, err := fetchRunValues(c, refs, prog)
	if err != nil {
		return err
	}
	env, err := buildEnv(os.Environ(), refs, got)
	if err != nil {
		return err
	}
	return execProgram(prog, argv, env)
}

// fetchRunValues sends one RUN message per group of references over one
// connection and returns the values by service and key.
func fetchRunValues(c *cli.Context, refs []envRef, prog *programFile) (fetched, error) {
	got := fetched{}
	groups := runGroups(refs)
	if len(groups) == 0 {
		return got, nil
	}
	cl, err := connect(c)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for _, g := range groups {
		resp, err := cl.Run(&transport.RunRequest{Service: g.service, Match: g.match, Targets: g.targets, ProgramFD: prog.fd})
		if err != nil {
			return nil, fmt.Errorf("talk to daemon: %w", err)
		}
		if resp.Status != transport.StatusSuccess {
			return nil, runRefusal(resp, prog)
		}
		if got[g.service] == nil {
			got[g.service] = map[string]string{}
		}
		for _, r := range resp.Results {
			if r.HasValue {
				got[g.service][r.Target] = r.Value.Reveal()
			}
		}
	}
	return got, nil
}

// runRefusal explains a refused RUN. The daemon's hint, when it sent one,
// says which way failed and what would allow it, and replaces the generic
// hints of get (which name --read, not --run).
func runRefusal(resp *transport.Response, prog *programFile) *cliError {
	e := refusalFor(resp)
	if resp.Hint != "" {
		e.hints = []string{resp.Hint}
	}
	switch resp.Reason {
	case transport.ReasonPendingApproval, transport.ReasonPendingQueueFull:
		if prog.fd < 0 {
			break // the caller was queued, as by get
		}
		e.msg = prog.path + " is not registered; it was queued for approval"
		e.hints = []string{"see it with `keychain-auth list-pending`, then `keychain-auth approve HASH` and `keychain-auth grant " + prog.path + " --run SERVICE`"}
	case auth.ReasonCourierUnverifiable:
		e.hints = append(e.hints, runAsProgramNote)
	case transport.ReasonCourierNotScript:
		e.msg = "denied: run is allowed as a registered script that calls it, or as a PROGRAM granted --run"
		if prog.fd < 0 {
			e.hints = append(e.hints, runAsProgramNote)
		}
	}
	return e
}

// programFile is PROGRAM as the CLI holds it: the resolved path and, on
// Linux when it could be opened, a descriptor the daemon identifies and
// execProgram executes (fd -1 otherwise); script marks a #! file.
type programFile struct {
	path   string
	fd     int
	script bool
}

// resolveProgram finds name as a shell would (PATH when it has no slash)
// and makes it absolute, resolving symlinks when links is set.
func resolveProgram(name string, links bool) (string, error) {
	found, err := exec.LookPath(name)
	if err != nil {
		return "", fail(exitError, "%v", err)
	}
	abs, err := filepath.Abs(found)
	if err == nil && links {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fail(exitError, "resolve %s: %v", name, err)
	}
	return abs, nil
}
