//go:build linux || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// The Secret Service API as far as this backend uses it
// (https://specifications.freedesktop.org/secret-service-spec/).
const (
	ssBusName      = "org.freedesktop.secrets"
	ssPath         = dbus.ObjectPath("/org/freedesktop/secrets")
	ssService      = "org.freedesktop.Secret.Service"
	ssCollection   = "org.freedesktop.Secret.Collection"
	ssItem         = "org.freedesktop.Secret.Item"
	ssPrompt       = "org.freedesktop.Secret.Prompt"
	ssNoPrompt     = dbus.ObjectPath("/")
	dbusProperties = "org.freedesktop.DBus.Properties"
)

// Timeouts: a hung provider or an unanswered prompt must not hang the
// daemon. Prompts get longer because a person may be typing a password.
const (
	ssCallTimeout   = 10 * time.Second
	ssPromptTimeout = 60 * time.Second
)

// ssSecret is the Secret struct of the spec: (oayays).
type ssSecret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// ssBus is one private connection to the session bus. Calls are bounded by
// ssCallTimeout.
type ssBus struct {
	conn  *dbus.Conn
	flags dbus.Flags
}

// dialSessionBus connects to address, which must be a unix: address taken
// from DBUS_SESSION_BUS_ADDRESS. It never looks for or launches a bus
// (godbus's SessionBus would run dbus-launch when no address is set).
// With autoStart false the bus is told not to activate a provider that is
// not already running, so probing does not start a keyring daemon.
func dialSessionBus(address string, autoStart bool) (*ssBus, error) {
	if address == "" {
		return nil, fmt.Errorf("DBUS_SESSION_BUS_ADDRESS is not set: %w", ErrUnavailable)
	}
	if !unixOnly(address) {
		return nil, fmt.Errorf("session bus address is not a unix socket: %w", ErrUnavailable)
	}
	conn, err := dbus.Dial(address)
	if err != nil {
		return nil, fmt.Errorf("dial session bus: %v: %w", err, ErrUnavailable)
	}
	done := make(chan error, 1)
	go func() {
		if err := conn.Auth(nil); err != nil {
			done <- err
			return
		}
		done <- conn.Hello()
	}()
	select {
	case err = <-done:
	case <-time.After(ssCallTimeout):
		err = errors.New("timed out")
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("session bus handshake: %v: %w", err, ErrUnavailable)
	}
	b := &ssBus{conn: conn}
	if !autoStart {
		b.flags = dbus.FlagNoAutoStart
	}
	return b, nil
}

// unixOnly reports whether every entry of a D-Bus address list uses the
// unix transport: a session bus reached over TCP would carry secrets off
// the machine's local sockets.
func unixOnly(address string) bool {
	for _, a := range strings.Split(address, ";") {
		if !strings.HasPrefix(a, "unix:") {
			return false
		}
	}
	return true
}

func (b *ssBus) close() error { return b.conn.Close() }

// call invokes method on the provider object at path and stores the reply.
func (b *ssBus) call(path dbus.ObjectPath, method string, args []any, out ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), ssCallTimeout)
	defer cancel()
	c := b.conn.Object(ssBusName, path).CallWithContext(ctx, method, b.flags, args...)
	if c.Err != nil {
		return mapDBusError(c.Err)
	}
	if len(out) == 0 {
		return nil
	}
	if err := c.Store(out...); err != nil {
		return fmt.Errorf("decode reply of %s: %w", method, err)
	}
	return nil
}

func (b *ssBus) getProperty(path dbus.ObjectPath, iface, name string, out any) error {
	var v dbus.Variant
	if err := b.call(path, dbusProperties+".Get", []any{iface, name}, &v); err != nil {
		return err
	}
	if err := dbus.Store([]any{v.Value()}, out); err != nil {
		return fmt.Errorf("decode property %s: %w", name, err)
	}
	return nil
}

func (b *ssBus) setProperty(path dbus.ObjectPath, iface, name string, v any) error {
	return b.call(path, dbusProperties+".Set", []any{iface, name, dbus.MakeVariant(v)})
}

// prompt runs a prompt the provider asked for and waits, at most
// ssPromptTimeout, for it to complete. A dismissed or timed-out prompt is
// an error; on timeout the prompt is dismissed so the provider's dialog
// does not linger.
func (b *ssBus) prompt(p dbus.ObjectPath) error {
	if p == ssNoPrompt || p == "" {
		return nil
	}
	match := []dbus.MatchOption{
		dbus.WithMatchObjectPath(p),
		dbus.WithMatchInterface(ssPrompt),
		dbus.WithMatchMember("Completed"),
	}
	if err := b.conn.AddMatchSignal(match...); err != nil {
		return fmt.Errorf("watch prompt: %w", err)
	}
	defer func() { _ = b.conn.RemoveMatchSignal(match...) }()
	ch := make(chan *dbus.Signal, 4)
	b.conn.Signal(ch)
	defer b.conn.RemoveSignal(ch)

	if err := b.call(p, ssPrompt+".Prompt", []any{""}); err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	timer := time.NewTimer(ssPromptTimeout)
	defer timer.Stop()
	for {
		select {
		case sig, ok := <-ch:
			if !ok {
				return fmt.Errorf("prompt: connection closed: %w", ErrUnavailable)
			}
			if sig.Path != p || sig.Name != ssPrompt+".Completed" || len(sig.Body) < 1 {
				continue
			}
			if dismissed, _ := sig.Body[0].(bool); dismissed {
				return errors.New("prompt dismissed")
			}
			return nil
		case <-timer.C:
			_ = b.call(p, ssPrompt+".Dismiss", nil)
			return fmt.Errorf("prompt not answered within %s", ssPromptTimeout)
		}
	}
}

// Errors the Secret Service and the bus report, by D-Bus error name.
const (
	errNameIsLocked       = "org.freedesktop.Secret.Error.IsLocked"
	errNameNoSuchObject   = "org.freedesktop.Secret.Error.NoSuchObject"
	errNameUnknownObject  = "org.freedesktop.DBus.Error.UnknownObject"
	errNameServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
	errNameNameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner"
	errNameNoReply        = "org.freedesktop.DBus.Error.NoReply"
	errNameNotSupported   = "org.freedesktop.DBus.Error.NotSupported"
)

// errNoSuchObject marks an item that vanished between a search and a read.
var errNoSuchObject = errors.New("no such object")

// mapDBusError turns the provider's error names into the backend's
// sentinels, keeping the provider's message (which never holds a value).
func mapDBusError(err error) error {
	de, ok := asDBusError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("secret service did not answer within %s: %w", ssCallTimeout, ErrUnavailable)
		}
		return fmt.Errorf("%v: %w", err, ErrUnavailable)
	}
	switch de.Name {
	case errNameIsLocked:
		return fmt.Errorf("%s: %w", dbusErrorText(de), ErrLocked)
	case errNameNoSuchObject, errNameUnknownObject:
		return fmt.Errorf("%s: %w", dbusErrorText(de), errNoSuchObject)
	case errNameServiceUnknown, errNameNameHasNoOwner, errNameNoReply:
		return fmt.Errorf("no secret service provider on the session bus (%s): %w", dbusErrorText(de), ErrUnavailable)
	}
	return &ssError{name: de.Name, text: dbusErrorText(de)}
}

// ssError is a provider error the backend has no sentinel for; it keeps the
// D-Bus error name so callers can tell a refused algorithm from a failure.
type ssError struct{ name, text string }

func (e *ssError) Error() string { return e.text }

// asDBusError finds a dbus.Error in err; godbus returns it by value, but a
// pointer is accepted too.
func asDBusError(err error) (dbus.Error, bool) {
	var de dbus.Error
	if errors.As(err, &de) {
		return de, true
	}
	var dp *dbus.Error
	if errors.As(err, &dp) && dp != nil {
		return *dp, true
	}
	return dbus.Error{}, false
}

func dbusErrorText(de dbus.Error) string {
	if msg := de.Error(); msg != "" && msg != de.Name {
		return de.Name + ": " + msg
	}
	return de.Name
}

// isNotSupported reports whether err is the provider refusing an algorithm.
func isNotSupported(err error) bool {
	var se *ssError
	return errors.As(err, &se) && se.name == errNameNotSupported
}
