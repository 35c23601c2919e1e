//go:build linux

package auth

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runFilePeer starts a helper client whose stdin is the file at path and
// returns the accepted peer: RunFile(0) then names that file.
func runFilePeer(t *testing.T, v *Verifier, path string) (*Peer, *exec.Cmd) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, sock := listen(t, "")
	cmd := exec.Command(testBinary(t))
	cmd.Env = append(os.Environ(), "AUTH_TEST_HELPER=client", "AUTH_TEST_SOCK="+sock)
	cmd.Stdin, cmd.Stderr = f, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p, err := acceptPeer(t, l, v)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if line, err := readLine(t, p); err != nil {
		t.Fatalf("Read: %v (%q)", err, line)
	}
	return p, cmd
}

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("\x7fELF not really"), 0o751); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Options{})

	p, _ := runFilePeer(t, v, prog)
	rf, err := p.RunFile(0)
	if err != nil {
		t.Fatalf("RunFile: %v", err)
	}
	want := Image{Path: prog, Hash: fileHash(t, prog)}
	if rf.Image != want || rf.Mode != 0o751 || rf.UID != uint32(os.Geteuid()) || rf.Script || rf.HasACL {
		t.Errorf("RunFile = %+v, want %+v, mode 0751, our uid, no script, no ACL", rf, want)
	}
	if _, err := p.RunFile(77); err == nil {
		t.Error("RunFile of a descriptor the peer does not hold succeeded")
	}

	p, _ = runFilePeer(t, v, script)
	if rf, err := p.RunFile(0); err != nil || !rf.Script {
		t.Errorf("RunFile(script) = %+v, %v; want Script", rf, err)
	}
}

// A file deleted after the CLI opened it is refused (image_deleted); the
// canary: a verifier without the image checks hashes it anyway.
func TestRunFileDeleted(t *testing.T) {
	for _, weak := range []bool{true, false} {
		prog := filepath.Join(t.TempDir(), "prog")
		if err := os.WriteFile(prog, []byte("bytes"), 0o755); err != nil {
			t.Fatal(err)
		}
		opts := Options{}
		if weak {
			opts.weak.NoImageChecks = true
		}
		p, _ := runFilePeer(t, newVerifier(t, opts), prog)
		os.Remove(prog)
		_, err := p.RunFile(0)
		switch {
		case weak && err != nil:
			t.Fatalf("canary: weakened verifier refused the deleted file: %v", err)
		case !weak:
			wantReason(t, err, ReasonImageDeleted)
		}
	}
}

// A peer that has exited cannot vouch for a descriptor number.
func TestRunFilePeerExited(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(prog, []byte("bytes"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, cmd := runFilePeer(t, newVerifier(t, Options{}), prog)
	cmd.Process.Kill()
	cmd.Wait()
	_, err := p.RunFile(0)
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonPeerExited {
		t.Fatalf("RunFile after exit: %v, want peer_exited", err)
	}
}
