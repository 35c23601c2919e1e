//go:build unix

package transport

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func listen(t *testing.T, path string) *Listener {
	t.Helper()
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// staleSocket leaves a socket file behind with nobody listening.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if mode(t, path).Type() != fs.ModeSocket {
		t.Fatal("no stale socket left behind")
	}
}

func TestListenCreatesPrivateDirAndSocket(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "a", "b", "agent.sock")
	l := listen(t, path)
	for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b")} {
		if m := mode(t, d); m.Perm() != 0o700 || !m.IsDir() {
			t.Errorf("%s: mode %v, want drwx------", d, m)
		}
	}
	if m := mode(t, path); m.Type() != fs.ModeSocket || m.Perm() != 0o600 {
		t.Errorf("socket mode %v, want srw-------", m)
	}
	if m := mode(t, path+".lock"); m.Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", m)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	// The lock was released: a new daemon can take the endpoint.
	listen(t, path)
}

func TestListenTightensOwnDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wide")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o757)
	listen(t, filepath.Join(dir, "agent.sock"))
	if m := mode(t, dir).Perm(); m != 0o700 {
		t.Errorf("dir mode %v, want 0700", m)
	}
}

func TestListenRefusesStickyDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(filepath.Join(dir, "agent.sock"))
	if err == nil || !strings.Contains(err.Error(), "sticky") {
		t.Fatalf("got %v, want a refusal of the sticky directory", err)
	}
	if m := mode(t, dir); m&fs.ModeSticky == 0 || m.Perm() != 0o777 {
		t.Errorf("shared dir was changed to %v", m)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	staleSocket(t, path)
	if _, err := Dial(path); !errors.Is(err, ErrDaemonNotRunning) {
		t.Fatalf("Dial to stale socket: got %v, want ErrDaemonNotRunning", err)
	}
	l := listen(t, path)
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := Dial(path)
	if err != nil {
		t.Fatalf("Dial after replacing the stale socket: %v", err)
	}
	c.Close()
}

func TestListenRefusesLiveDaemon(t *testing.T) {
	t.Run("ours, holding the lock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "agent.sock")
		listen(t, path)
		if _, err := Listen(path); !errors.Is(err, ErrDaemonRunning) {
			t.Fatalf("second Listen: got %v, want ErrDaemonRunning", err)
		}
	})
	t.Run("a listener without the lock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "agent.sock")
		other, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := Listen(path); !errors.Is(err, ErrDaemonRunning) {
			t.Fatalf("Listen over a live socket: got %v, want ErrDaemonRunning", err)
		}
		if mode(t, path).Type() != fs.ModeSocket {
			t.Error("the live socket was removed")
		}
	})
}

func TestListenLeavesNonSocketAlone(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("user data"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(path string) error{
		"regular file": func(p string) error { return os.WriteFile(p, []byte("user data"), 0o600) },
		"directory":    func(p string) error { return os.Mkdir(p, 0o700) },
		"symlink":      func(p string) error { return os.Symlink(target, p) },
	}
	for name, make := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".sock")
			if err := make(path); err != nil {
				t.Fatal(err)
			}
			before := mode(t, path)
			if l, err := Listen(path); err == nil {
				l.Close()
				t.Fatal("Listen replaced a non-socket")
			}
			if after := mode(t, path); after != before {
				t.Errorf("mode changed from %v to %v", before, after)
			}
		})
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "user data" {
		t.Errorf("symlink target changed: %q, %v", b, err)
	}
}

func TestListenRefusesSymlinkedDir(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(filepath.Join(link, "agent.sock"))
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("got %v, want a symlink refusal", err)
	}
	if entries, _ := os.ReadDir(real); len(entries) != 0 {
		t.Errorf("files created through the symlink: %v", entries)
	}
}

func TestListenRefusesNonDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := Listen(filepath.Join(file, "agent.sock")); err == nil {
		l.Close()
		t.Fatal("Listen under a regular file succeeded")
	}
}

func TestListenRefusesForeignOwnedDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another uid")
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(filepath.Join(dir, "agent.sock"))
	if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("got %v, want a refusal naming the owner", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files created in a foreign directory: %v", entries)
	}
}

func TestListenConcurrentOneWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	const n = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []*Listener
		other []error
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			l, err := Listen(path)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, l)
			case !errors.Is(err, ErrDaemonRunning):
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, l := range wins {
		defer l.Close()
	}
	if len(wins) != 1 || len(other) != 0 {
		t.Fatalf("%d listeners won, unexpected errors %v; want exactly one winner", len(wins), other)
	}
}

func TestDialNotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	if _, err := Dial(path); !errors.Is(err, ErrDaemonNotRunning) {
		t.Errorf("missing socket: got %v, want ErrDaemonNotRunning", err)
	}
	file := filepath.Join(t.TempDir(), "file.sock")
	os.WriteFile(file, nil, 0o600)
	// The kernel answers ECONNREFUSED for a file that is not a socket:
	// nobody is serving there either.
	if _, err := Dial(file); !errors.Is(err, ErrDaemonNotRunning) {
		t.Errorf("regular file: got %v, want ErrDaemonNotRunning", err)
	}
}
