//go:build !linux && !windows

package main

import (
	"os/exec"
	"path/filepath"
	"syscall"
)

// runAsProgramNote is added to a refusal. On macOS the daemon verifies
// neither the script behind the CLI (courier_unverifiable) nor the file
// the CLI would execute, so `run` is refused both ways there.
const runAsProgramNote = "run needs Linux: on this platform the daemon can verify neither the script that calls the CLI nor the PROGRAM it would start (SECURITY.md, \"run\")"

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
