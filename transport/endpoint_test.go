//go:build linux

package transport

import (
	"path/filepath"
	"testing"
)

func TestEndpoint(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	t.Setenv(EnvSocket, "")
	cases := []struct{ name, flag, env, runtime, want string }{
		{"runtime dir", "", "", "/run/user/1000", "/run/user/1000/keychain-auth/agent.sock"},
		{"no runtime dir", "", "", "", "/home/u/.cache/keychain-auth/agent.sock"},
		{"relative runtime dir ignored", "", "", "run", "/home/u/.cache/keychain-auth/agent.sock"},
		{"env wins over default", "", "/tmp/e.sock", "/run/user/1000", "/tmp/e.sock"},
		{"flag wins over env", "/tmp/f.sock", "/tmp/e.sock", "/run/user/1000", "/tmp/f.sock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", tc.runtime)
			t.Setenv(EnvSocket, tc.env)
			got, err := Endpoint(tc.flag)
			if err != nil || got != filepath.FromSlash(tc.want) {
				t.Errorf("Endpoint(%q) = %q, %v; want %q", tc.flag, got, err, tc.want)
			}
		})
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("HOME", "")
	if got, err := DefaultEndpoint(); err == nil {
		t.Errorf("no HOME and no runtime dir: got %q, want an error", got)
	}
}
