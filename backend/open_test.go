package backend

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestOpenUnknownNameListsValidOnes(t *testing.T) {
	_, _, err := Open("gnome", Options{DataDir: t.TempDir()})
	if err == nil {
		t.Fatal("Open(gnome) succeeded")
	}
	for _, n := range Names() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

func TestNames(t *testing.T) {
	want := []string{NameAuto, NameFile, NameSecretService, NameKeychain, NameWincred}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
}

func TestOpenFileByName(t *testing.T) {
	s, sel, err := Open(NameFile, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sel.Name != NameFile || sel.Requested != NameFile || s.Info().Name != NameFile {
		t.Fatalf("selection %+v, info %+v", sel, s.Info())
	}
	if _, _, err := Open(NameFile, Options{}); err == nil {
		t.Fatal("Open(file) without a data directory succeeded")
	}
}

// A named store that is not there is an error, never the file vault.
func TestOpenNamedUnavailableIsError(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	var missing []string
	switch runtime.GOOS {
	case "windows":
		missing = []string{NameSecretService, NameKeychain}
	case "darwin":
		missing = []string{NameSecretService, NameWincred}
	default:
		missing = []string{NameSecretService, NameKeychain, NameWincred}
	}
	for _, name := range missing {
		s, _, err := Open(name, Options{DataDir: t.TempDir()})
		if !errors.Is(err, ErrUnavailable) {
			if s != nil {
				_ = s.Close()
			}
			t.Errorf("Open(%s) = %v, want ErrUnavailable", name, err)
		}
	}
}

func TestOpenEmptyNameIsAuto(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if nativeName() != NameSecretService {
		t.Skip("the fallback case is driven on Secret Service platforms")
	}
	s, sel, err := Open("", Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sel.Requested != NameAuto || sel.Name != NameFile || !strings.Contains(sel.Reason, "DBUS_SESSION_BUS_ADDRESS") {
		t.Fatalf("selection %+v: want auto → file because no bus address", sel)
	}
}

// auto falls back when the bus named by the environment does not answer,
// and says why.
func TestOpenAutoDeadBusFallsBack(t *testing.T) {
	if nativeName() != NameSecretService {
		t.Skip("the fallback case is driven on Secret Service platforms")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/nobody-home")
	s, sel, err := Open(NameAuto, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sel.Name != NameFile || !strings.Contains(sel.Reason, NameSecretService+" not used") {
		t.Fatalf("selection %+v: want file, saying the secret service was not used", sel)
	}
	if _, _, err := Open(NameSecretService, Options{DataDir: t.TempDir()}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open(secret-service) on a dead bus = %v, want ErrUnavailable", err)
	}
}
