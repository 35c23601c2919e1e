// Package broker is the daemon's request loop: accept a connection, learn
// who is on the other end, read one request line at a time, decide it
// against the live policy, apply it to the store, answer and audit.
//
// It owns no policy and no storage of its own: identity comes from auth,
// decisions from policy, items from a backend.Store. It never writes a
// secret value anywhere but the response to the caller that was allowed it.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/config"
)

// Limits bound what one client can make the daemon do.
type Limits struct {
	// MaxLine is the longest request line in bytes.
	MaxLine int
	// MaxTargets is the most targets one request may name.
	MaxTargets int
	// MaxConns is the most connections served at once. A newcomer beyond
	// it takes the place of a connection on which no request was allowed
	// yet (see slotTable); when there is none it is answered
	// too_many_connections and closed.
	MaxConns int
	// MaxConnsPerUID is the most connections one uid may hold at once (0:
	// MaxConns). It matters where many users share the daemon.
	MaxConnsPerUID int
	// IdleTimeout closes a connection that sends no complete request for this long.
	IdleTimeout time.Duration
}

// DefaultLimits are the limits `serve` starts with.
func DefaultLimits() Limits {
	return Limits{MaxLine: 1 << 20, MaxTargets: 1000, MaxConns: 64, IdleTimeout: 2 * time.Minute}
}

// Tenant is one user's share of the daemon: the policy that applies to
// their programs, their approval queue, their items and their audit trail.
// In user mode there is one; in system mode one per uid, and nothing of one
// tenant is ever reachable from a request of another uid.
type Tenant struct {
	Store   backend.Store
	Policy  *config.Source
	Pending *config.Pending
	Audit   *audit.Log // nil: decisions go to Options.Audit
	// AuditPath is Audit's file, read back for VIEW ("" : none).
	AuditPath string
}

// Options wire a Server to its parts. Verifier and Logger are required,
// and either Tenants or Store, Policy and Pending (user mode's one tenant).
type Options struct {
	// Store, Policy and Pending are the single tenant of user mode, used
	// when Tenants is nil.
	Store   backend.Store
	Policy  *config.Source
	Pending *config.Pending
	// Tenants, when set, is system mode: it returns the tenant of uid,
	// creating it on first use. An error refuses the request.
	Tenants func(uid uint32) (*Tenant, error)
	// Audit receives what belongs to no tenant (callers refused before
	// their uid was known) and, in user mode, every decision.
	Audit    *audit.Log
	Verifier *auth.Verifier
	// Self is the daemon's own image as it started (path and hash): a
	// caller at that path with another hash is keychain-auth upgraded
	// since, and is told to restart serve. Zero turns that check off.
	Self   auth.Image
	Logger *slog.Logger
	Limits Limits
	// Version, Endpoint and Mode ("user" or "system") are reported by the
	// STATUS message.
	Version  string
	Endpoint string
	Mode     string
}

// Modes reported by STATUS.
const (
	ModeUser   = "user"
	ModeSystem = "system"
)

// Server serves the wire protocol. Create it with New.
type Server struct {
	opt     Options
	slots   *slotTable
	started time.Time

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool // closeAll has run: connections that arrive late are closed
	wg      sync.WaitGroup

	life lifeState // lock, unlock, passwd and the idle auto-lock (lifecycle.go)
}

// New returns a Server; zero limits take their defaults.
func New(opt Options) *Server {
	def := DefaultLimits()
	if opt.Limits.MaxLine <= 0 {
		opt.Limits.MaxLine = def.MaxLine
	}
	if opt.Limits.MaxTargets <= 0 {
		opt.Limits.MaxTargets = def.MaxTargets
	}
	if opt.Limits.MaxConns <= 0 {
		opt.Limits.MaxConns = def.MaxConns
	}
	if opt.Limits.IdleTimeout <= 0 {
		opt.Limits.IdleTimeout = def.IdleTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Mode == "" {
		opt.Mode = ModeUser
	}
	s := &Server{
		opt:     opt,
		slots:   newSlotTable(opt.Limits.MaxConns, opt.Limits.MaxConnsPerUID),
		started: time.Now(),
		conns:   make(map[net.Conn]struct{}),
	}
	if s.opt.Tenants == nil {
		s.opt.Tenants = s.userTenant
	}
	return s
}

// userTenant is user mode's one tenant. The verifier has already refused
// every uid but the daemon's own.
func (s *Server) userTenant(uint32) (*Tenant, error) {
	return &Tenant{Store: s.opt.Store, Policy: s.opt.Policy, Pending: s.opt.Pending}, nil
}

// Conn is a connection the broker serves: a Unix socket connection, or a
// named pipe connection from transport.ListenPipe on Windows. CloseWrite
// lets the last line reach a client that is still writing (linger); a pipe
// has no half-close and its CloseWrite does nothing.
type Conn interface {
	net.Conn
	CloseWrite() error
}

// Serve accepts connections on l (and on every listener in more) until ctx
// is done or l fails, then closes every open connection and waits for their
// handlers to return. A failing extra listener is logged and stops only
// itself. The listeners' connections must be Conns (Unix sockets, pipes).
func (s *Server) Serve(ctx context.Context, l net.Listener, more ...net.Listener) error {
	defer s.closeAll()
	for _, m := range more {
		go func() {
			if err := s.accept(ctx, m); err != nil {
				s.opt.Logger.Error("listener failed", "endpoint", m.Addr().String(), "err", err)
			}
		}()
	}
	return s.accept(ctx, l)
}

// accept runs one listener's accept loop; it closes the listener when ctx
// is done and returns nil then.
func (s *Server) accept(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		cc, ok := c.(Conn)
		if !ok {
			s.opt.Logger.Error("connection refused: the listener's connections cannot be served", "type", fmt.Sprintf("%T", c))
			c.Close()
			continue
		}
		s.start(cc)
	}
}

// ServeConn serves one connected socket or pipe and returns when it is
// closed. Serve runs it for every accepted connection; the in-process tests
// call it over a socketpair.
func (s *Server) ServeConn(c Conn) {
	sl, shed, ok := s.slots.acquire(c)
	if !ok {
		s.opt.Logger.Warn("connection refused: too many connections, none of them sheddable", "limit", s.opt.Limits.MaxConns, "uid", sl.owner.UID, "pid", sl.owner.PID, "exe", sl.owner.Exe)
		refuseBusy(c)
		return
	}
	if shed != nil {
		// Its handler sees the connection closed and returns.
		s.opt.Logger.Warn("connection shed to make room: too many connections", "limit", s.opt.Limits.MaxConns,
			"shed_uid", shed.owner.UID, "shed_pid", shed.owner.PID, "shed_exe", shed.owner.Exe)
		shed.c.Close()
	}
	defer s.slots.release(sl)
	s.track(c, true)
	defer s.track(c, false)
	s.serveConn(c)
}

// connOwner is who holds c's other end, where the system tells (a Unix
// socket on Linux, a named pipe on Windows); connections whose owner is
// unknown form one group in the slot table.
func connOwner(c Conn) (auth.Owner, error) {
	if uc, ok := c.(*net.UnixConn); ok {
		return auth.ConnOwner(uc)
	}
	return auth.PipeOwner(c)
}

func (s *Server) start(c Conn) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.ServeConn(c)
	}()
}

// track adds or removes an open connection. A handler goroutine may reach
// track only after closeAll has closed the others; its connection is then
// closed at once, or shutdown would wait for it up to the idle timeout.
func (s *Server) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case add && s.closing:
		c.Close()
	case add:
		s.conns[c] = struct{}{}
	default:
		delete(s.conns, c)
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
