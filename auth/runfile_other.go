//go:build !linux

package auth

// RunFile is unsupported off Linux: the daemon cannot open its peer's
// descriptor (macOS has no /proc; on Windows the CLI cannot run a program
// by handle either). `run` as the PROGRAM is refused there; `run` as the
// caller does not need it.
func (p *Peer) RunFile(fd int) (*RunFile, error) { return nil, ErrRunUnsupported }
