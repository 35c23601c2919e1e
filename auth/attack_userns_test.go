//go:build linux

package auth

import (
	"strings"
	"testing"
)

// expectOrSkip is expect for the namespace attackers in C: a "skip:" line
// (the kernel refused a namespace) skips the test with its message, a
// "fail:" line fails it.
func (p *attackProc) expectOrSkip(prefix string) string {
	p.t.Helper()
	for {
		line, err := p.out.ReadString('\n')
		if strings.HasPrefix(line, "skip:") {
			p.t.Skipf("SKIP %s: %s", p.cmd.Path, strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, "fail:") {
			p.t.Fatalf("%s: %s", p.cmd.Path, strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
		if err != nil {
			p.t.Fatalf("%s: no %q line before %v (last %q)", p.cmd.Path, prefix, err, line)
		}
	}
}

// TestAttackForgedCredentials: an ordinary user creates a user namespace
// (where it is root) and a pid namespace owned by it. Its first process
// there connects to the daemon, forks a holder that keeps the connection
// and execs an approved binary; the holder writes the request with
// SCM_CREDENTIALS naming the connector, which CAP_SYS_ADMIN over its own
// pid namespace lets it do. The kernel then labels the chunk with the
// connector's pid (and SCM_PIDFD with the connector's pidfd, as it derives
// it from the same forged pid), so the per-message sender check, which
// beats the honest version of this attack (exec-after-connect), passes.
//
// Canary: with only the namespace check off, the forged request passes as
// the approved binary, while the honest one is still refused
// sender_not_connector (so it is the forgery that beats the sender check).
// Real verifier: foreign_namespace at Accept. Under the container opt-in
// (AllowForeignNamespaces) the forgery works: a known, documented
// weakness of that opt-in, asserted here so the docs change the day it
// stops working.
func TestAttackForgedCredentials(t *testing.T) {
	lab := newAttackLab(t)
	attacker := lab.compileC("forge_cred")
	approved, hash := lab.approvedBinary()
	run := func(cfg daemonConfig, mode string) attackResult {
		d := lab.daemon(cfg)
		a := lab.start([]string{attacker, mode, lab.sock, approved})
		a.expectOrSkip("connected")
		return d.result()
	}
	weak := daemonConfig{Weak: Weakening{NoNamespaceCheck: true}}
	wantIdentified(t, run(weak, "forge"), approved, hash)
	wantRefused(t, run(weak, "honest"), ReasonSenderNotConnector)
	wantRefused(t, run(daemonConfig{}, "forge"), ReasonForeignNamespace)
	res := run(daemonConfig{AllowForeignNamespaces: true}, "forge")
	if res.Exe != approved || res.Hash != hash {
		t.Fatalf("known limitation changed: under AllowForeignNamespaces the forged sender gave %+v; "+
			"update SECURITY.md (containers) and this test", res)
	}
}
