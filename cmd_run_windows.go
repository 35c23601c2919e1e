package main

import (
	"errors"
	"os"
	"os/exec"
)

// runAsProgramNote: on Windows the daemon verifies neither the CLI's
// caller (courier_unverifiable) nor the file it would start, so `run` is
// refused both ways there.
const runAsProgramNote = "run needs Linux: on Windows the daemon can verify neither the script that calls the CLI nor the PROGRAM it would start (SECURITY.md, \"run\")"

// openProgram keeps PROGRAM by path (symlinks not resolved, as before):
// no handle is offered to the daemon.
func openProgram(name string) (*programFile, error) {
	abs, err := resolveProgram(name, false)
	if err != nil {
		return nil, err
	}
	return &programFile{path: abs, fd: -1}, nil
}

func (p *programFile) close() {}

// execProgram starts PROGRAM as a child (Windows has no exec), waits, and
// exits with its exit code. Console signals (Ctrl-C) reach both processes;
// keychain-auth ignores none of them specially. Unrun on real Windows.
func execProgram(p *programFile, argv, env []string) error {
	cmd := exec.Command(p.path, argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return &cliError{code: ee.ExitCode()}
	case err != nil:
		return fail(exitError, "start %s: %v", p.path, err)
	}
	return nil
}
