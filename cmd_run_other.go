//go:build !linux && !windows

package main

import (
	"os/exec"
	"path/filepath"
	"syscall"
)

// runAsProgramNote is added to a refusal: off Linux the daemon cannot
// verify the file the CLI will execute, so `run` works only as the caller.
const runAsProgramNote = "on this platform run works only from a registered script that calls it (run as the caller); " +
	"a PROGRAM granted --run cannot be verified here (SECURITY.md, \"run\")"

// programFile is PROGRAM by path: no descriptor is offered to the daemon.
type programFile struct {
	path   string
	fd     int
	script bool
}

func openProgram(name string) (*programFile, error) {
	found, err := exec.LookPath(name)
	if err != nil {
		return nil, fail(exitError, "%v", err)
	}
	abs, err := filepath.Abs(found)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fail(exitError, "resolve %s: %v", name, err)
	}
	return &programFile{path: abs, fd: -1}, nil
}

func (p *programFile) close() {}

// execProgram replaces this process with PROGRAM (by path: only the
// caller's run is allowed here, which does not depend on PROGRAM).
func execProgram(p *programFile, argv, env []string) error {
	err := syscall.Exec(p.path, argv, env)
	return fail(exitError, "start %s: %v", p.path, err)
}
