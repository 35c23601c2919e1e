package broker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keychain-auth/keychain-auth/audit"
	"github.com/keychain-auth/keychain-auth/auth"
	"github.com/keychain-auth/keychain-auth/backend"
	"github.com/keychain-auth/keychain-auth/secret"
	"github.com/keychain-auth/keychain-auth/transport"
)

// The vault lifecycle: the admin messages LOCK, UNLOCK and PASSWD, and the
// idle auto-lock.
//
// Who may send them: keychain-auth's own CLI, wherever it runs, and any
// registered program (admit refuses other programs as they connect). LOCK
// is a denial of service, but
// one a same-user program can always cause anyway (kill the daemon, or take
// the vault's file lock); UNLOCK and PASSWD need the passphrase, so they
// give a caller nothing it does not already know. A passphrase is never
// logged, audited or put in an error.

// badPassphraseDelay is how long a wrong UNLOCK or PASSWD holds the
// lifecycle lock before it is answered. Together with the Argon2id cost of
// each attempt it keeps guessing slow, also over many connections at once,
// since every attempt waits for the lock. Tests shorten it.
var badPassphraseDelay = time.Second

// Audit actions of lifecycle decisions.
const (
	actionLock     = "lock"
	actionUnlock   = "unlock"
	actionPasswd   = "passwd"
	actionAutoLock = "auto-lock"
)

// rekeyer is a store whose passphrase can be changed in place (the vault).
type rekeyer interface {
	ChangePassphrase(newPass secret.Value) error
}

// lifeState serializes lifecycle operations and remembers when the last
// request arrived, for the auto-lock. Its zero value is ready to use.
type lifeState struct {
	mu   sync.Mutex
	last atomic.Int64 // unix nanoseconds of the last request; 0: none yet
}

// touch records a request for the idle auto-lock.
func (s *Server) touch() { s.life.last.Store(time.Now().UnixNano()) }

// isLifecycle reports whether t is one of the lifecycle admin messages.
func isLifecycle(t string) bool {
	return t == transport.TypeLock || t == transport.TypeUnlock || t == transport.TypePasswd
}

// lifecycle answers LOCK, UNLOCK and PASSWD from an accepted peer.
func (s *Server) lifecycle(t *Tenant, id *auth.Identity, req *transport.Request) *transport.Response {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	lk, ok := t.Store.(backend.Lockable)
	if !ok {
		return s.lifeAnswer(t, id, lifeAction(req.Type), errorResponse(transport.ReasonNotLockable), "store "+t.Store.Info().Name+" is not lockable")
	}
	switch req.Type {
	case transport.TypeLock:
		return s.lock(t, id, lk)
	case transport.TypeUnlock:
		return s.unlock(t, id, lk, req.Passphrase)
	default:
		return s.passwd(t, id, lk, req.Passphrase, req.NewPassphrase)
	}
}

func lifeAction(typ string) string {
	switch typ {
	case transport.TypeLock:
		return actionLock
	case transport.TypeUnlock:
		return actionUnlock
	}
	return actionPasswd
}

func (s *Server) lock(t *Tenant, id *auth.Identity, lk backend.Lockable) *transport.Response {
	if err := lk.Lock(); err != nil {
		return s.lifeFailed(t, id, actionLock, err)
	}
	s.opt.Logger.Info("store locked on request", "pid", id.PID)
	return s.lifeAnswer(t, id, actionLock, successResponse(), "")
}

func (s *Server) unlock(t *Tenant, id *auth.Identity, lk backend.Lockable, pass secret.Value) *transport.Response {
	if err := lk.Unlock(pass); err != nil {
		return s.lifeFailed(t, id, actionUnlock, err)
	}
	// The idle time starts when the store is open again, not when the
	// request came: deriving the key can take longer than a short
	// --auto-lock, which would lock the store right after it opened.
	s.touch()
	s.opt.Logger.Info("store unlocked on request", "pid", id.PID)
	return s.lifeAnswer(t, id, actionUnlock, successResponse(), "")
}

// passwd checks the current passphrase by unlocking with it (which leaves
// the store as it was on failure), then re-keys the open store in place.
func (s *Server) passwd(t *Tenant, id *auth.Identity, lk backend.Lockable, old, next secret.Value) *transport.Response {
	rk, ok := t.Store.(rekeyer)
	if !ok {
		return s.lifeAnswer(t, id, actionPasswd, errorResponse(transport.ReasonNotLockable), "store cannot change its passphrase")
	}
	if err := lk.Unlock(old); err != nil {
		return s.lifeFailed(t, id, actionPasswd, err)
	}
	if err := rk.ChangePassphrase(next); err != nil {
		return s.lifeFailed(t, id, actionPasswd, err)
	}
	s.touch()
	s.opt.Logger.Info("vault passphrase changed", "pid", id.PID)
	return s.lifeAnswer(t, id, actionPasswd, successResponse(), "")
}

// lifeFailed maps a store error to its reason. A wrong passphrase is
// answered only after badPassphraseDelay, with the lifecycle lock held.
func (s *Server) lifeFailed(t *Tenant, id *auth.Identity, action string, err error) *transport.Response {
	switch {
	case errors.Is(err, backend.ErrBadPassphrase), errors.Is(err, backend.ErrPassphraseRequired),
		errors.Is(err, backend.ErrKeyFileVault):
		s.opt.Logger.Warn("wrong passphrase", "action", action, "pid", id.PID)
		time.Sleep(badPassphraseDelay)
		return s.lifeAnswer(t, id, action, deniedResponse(transport.ReasonBadPassphrase), "")
	case errors.Is(err, backend.ErrLocked):
		return s.lifeAnswer(t, id, action, errorResponse(transport.ReasonStoreLocked), err.Error())
	}
	s.opt.Logger.Error("store lifecycle operation failed", "action", action, "err", err)
	return s.lifeAnswer(t, id, action, errorResponse(transport.ReasonInternalError), err.Error())
}

// lifeAnswer audits a lifecycle decision and returns resp.
func (s *Server) lifeAnswer(t *Tenant, id *auth.Identity, action string, resp *transport.Response, detail string) *transport.Response {
	rec := decisionRecord(id, nil, resp.Status, resp.Reason, detail)
	rec.Action = action
	s.audit(t, rec)
	return resp
}

func successResponse() *transport.Response {
	return &transport.Response{Type: transport.TypeResponse, Status: transport.StatusSuccess}
}

// AutoLock locks a Lockable store after idle passes without a request, and
// again after each later unlock followed by idle without a request, until
// ctx is done. It returns at once when idle is 0 or the store cannot be
// locked. Requests that arrive while the store is locked are answered
// store_locked until `keychain-auth unlock`.
func (s *Server) AutoLock(ctx context.Context, idle time.Duration) {
	lk, ok := s.opt.Store.(backend.Lockable)
	if idle <= 0 || !ok {
		return
	}
	if s.life.last.Load() == 0 {
		s.touch()
	}
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(s.autoLockTick(lk, idle))
	}
}

// autoLockTick locks the store if it has been idle long enough and returns
// how long to wait before looking again.
func (s *Server) autoLockTick(lk backend.Lockable, idle time.Duration) time.Duration {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	since := time.Since(time.Unix(0, s.life.last.Load()))
	if since < idle {
		return idle - since
	}
	if !lk.Locked() {
		if err := lk.Lock(); err != nil {
			s.opt.Logger.Error("auto-lock failed", "err", err)
		} else {
			s.opt.Logger.Info("store locked after idle time", "idle", idle.String())
			s.audit(nil, autoLockRecord())
		}
	}
	return idle
}

func autoLockRecord() audit.Record {
	r := decisionRecord(nil, nil, transport.StatusSuccess, "", "idle")
	r.Action = actionAutoLock
	return r
}
