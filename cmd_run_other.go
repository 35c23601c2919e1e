//go:build !linux && !windows

package main

import (
	"syscall"
)

// runAsProgramNote is added to a refusal. On macOS the daemon verifies
// neither the script behind the CLI (courier_unverifiable) nor the file
// the CLI would execute, so `run` is refused both ways there.
const runAsProgramNote = "run needs Linux: on this platform the daemon can verify neither the script that calls the CLI nor the PROGRAM it would start (SECURITY.md, \"run\")"

// openProgram keeps PROGRAM by path: no descriptor is offered to the daemon.
func openProgram(name string) (*programFile, error) {
	abs, err := resolveProgram(name, true)
	if err != nil {
		return nil, err
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
