package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Transition names a state change, for logs and metrics.
type Transition string

// Transitions.
const (
	Created   Transition = "created"   // a new key is published as next
	Activated Transition = "activated" // a key starts signing
	Retired   Transition = "retired"   // a key stops signing, stays published
	Removed   Transition = "removed"   // a retired key's tokens have expired
	Revoked   Transition = "revoked"   // a key was withdrawn at once
)

// Errors.
var (
	// ErrTooSoon: the next key has not been published long enough to sign.
	ErrTooSoon = errors.New("the next key has not been published long enough")
	// ErrNotLoaded: no key set could be read yet; serve 503, never an
	// empty JWKS that verifiers would cache.
	ErrNotLoaded = errors.New("signing keys not loaded")
)

// Options configure a Manager. cmd fills them from configuration.
type Options struct {
	Store  storage.Keys
	Cipher *Cipher
	// Algorithm for new keys: RS256, ES256 or EdDSA.
	Algorithm string
	// RotationPeriod is how long a key signs before the next one takes over.
	RotationPeriod time.Duration
	// Prepublish is how long a key is in the JWKS before it may sign. It
	// must exceed the JWKS cache lifetime (see CacheMaxAge) plus Refresh.
	Prepublish time.Duration
	// Retention is how long a retired key stays published: the longest
	// lifetime of a token it signed, plus clock leeway.
	Retention time.Duration
	// Refresh is how often Run re-reads the key set (default 5s).
	Refresh time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per transition (default: discard).
	Logger *slog.Logger
	// OnTransition, when set, is called once per transition, e.g. to count
	// it in /metrics.
	OnTransition func(Transition)
	// Audit records the scheduled rotations (key.rotated, by the system);
	// nil records nothing. Rotate and Revoke record nothing: their
	// callers (the CLI, the admin API) know who asked.
	Audit *audit.Recorder
}

// Manager keeps the key set rotated and serves snapshots of it.
type Manager struct {
	opts    Options
	current atomic.Pointer[Set]
}

// New returns a Manager; call Refresh (or Run) before Current.
func New(opts Options) *Manager {
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{opts: opts}
}

// CacheMaxAge is how long verifiers may cache the JWKS: half the
// pre-publication window, so a verifier's cached copy always contains the
// next key before it signs, even allowing for Refresh.
func (m *Manager) CacheMaxAge() time.Duration {
	return max(m.opts.Prepublish/2-m.opts.Refresh, time.Second)
}

// Current returns the last loaded key set.
func (m *Manager) Current() (*Set, error) {
	s := m.current.Load()
	if s == nil {
		return nil, ErrNotLoaded
	}
	return s, nil
}

// List returns the stored keys as they are, changing nothing.
func (m *Manager) List(ctx context.Context) ([]storage.SigningKey, error) {
	stored, err := m.opts.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return ordered(stored), nil
}

// Run refreshes the key set every Refresh until ctx is done. A failed
// refresh is logged and the last good set stays in use.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.opts.Logger.Warn("refresh signing keys", "err", err)
			}
		}
	}
}

// Refresh makes the scheduled transitions that are due (bootstrap, rotation,
// removal of expired keys) and reloads the snapshot. It writes only when
// something is due, so instances refreshing every few seconds mostly read.
func (m *Manager) Refresh(ctx context.Context) error {
	stored, err := m.opts.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	if _, events, _ := m.maintain(stored, m.opts.Now(), &fresh{dry: true}); len(events) > 0 {
		stored, events, err = m.update(ctx, m.maintain)
		if err != nil {
			return err
		}
		m.recordRotation(ctx, events)
	}
	return m.load(stored)
}

// recordRotation records a scheduled rotation among events: of instances
// refreshing at once, only the one whose transaction made it has it.
func (m *Manager) recordRotation(ctx context.Context, events []event) {
	var retired, activated string
	for _, e := range events {
		switch e.t {
		case Retired:
			retired = e.kid
		case Activated:
			activated = e.kid
		}
	}
	if retired == "" || activated == "" {
		return // the first key, or the next key replacing a revoked one
	}
	m.opts.Audit.Log(ctx, storage.AuditEntry{
		Type: audit.KeyRotated, ActorType: storage.ActorSystem, TargetType: "signing_key", TargetID: activated,
		Details: audit.Details(map[string]any{"retired_kid": retired, "activated_kid": activated, "scheduled": true}),
	})
}

// Rotate retires the active key and activates the next one now, instead of
// at the end of the rotation period. Without force it refuses (ErrTooSoon)
// while the next key is younger than the pre-publication window, since
// verifiers may not have seen it yet.
func (m *Manager) Rotate(ctx context.Context, force bool) error {
	stored, _, err := m.update(ctx, func(keys []storage.SigningKey, now time.Time, f *fresh) ([]storage.SigningKey, []event, error) {
		keys, events, err := m.maintain(keys, now, f)
		if err != nil {
			return nil, nil, err
		}
		active, next := find(keys, storage.KeyActive), find(keys, storage.KeyNext)
		if active < 0 || next < 0 {
			return nil, nil, fmt.Errorf("rotate: no active and next key to rotate")
		}
		if !force && !published(keys[next], now, m.opts.Prepublish) {
			wait := keys[next].CreatedAt.Add(m.opts.Prepublish).Sub(now).Round(time.Second)
			return nil, nil, fmt.Errorf("rotate: %w (it signs safely in %s; --force skips the wait)", ErrTooSoon, wait)
		}
		keys, more, err := m.rotate(keys, active, next, now, f)
		return keys, append(events, more...), err
	})
	if err != nil {
		return err
	}
	return m.load(stored)
}

// Revoke withdraws the key kid at once: it leaves the JWKS, so tokens it
// signed stop verifying. A revoked active key is replaced by the next key
// (even if verifiers have not cached it yet: a compromised key is worse),
// and a fresh next key is made. storage.ErrNotFound when there is no such key.
func (m *Manager) Revoke(ctx context.Context, kid string) error {
	stored, _, err := m.update(ctx, func(keys []storage.SigningKey, now time.Time, f *fresh) ([]storage.SigningKey, []event, error) {
		i := slices.IndexFunc(keys, func(k storage.SigningKey) bool { return k.ID == kid })
		if i < 0 {
			return nil, nil, fmt.Errorf("revoke key %q: %w", kid, storage.ErrNotFound)
		}
		events := []event{{Revoked, kid}}
		keys = append(keys[:i:i], keys[i+1:]...)
		keys, more, err := m.maintain(keys, now, f)
		return keys, append(events, more...), err
	})
	if err != nil {
		return err
	}
	return m.load(stored)
}

// event is one transition of one key.
type event struct {
	t   Transition
	kid string
}

// step computes a new key set from the stored one; new keys come from f.
type step func(keys []storage.SigningKey, now time.Time, f *fresh) ([]storage.SigningKey, []event, error)

// maintain is the scheduled part of the state machine: drop retired keys
// whose tokens have expired, make sure one key is active and one is next,
// and rotate when the active key's period is over and the next key is
// published long enough.
func (m *Manager) maintain(stored []storage.SigningKey, now time.Time, f *fresh) ([]storage.SigningKey, []event, error) {
	var keys []storage.SigningKey
	var events []event
	for _, k := range stored {
		if k.State == storage.KeyRetired && !now.Before(k.RemoveAfter) {
			events = append(events, event{Removed, k.ID})
			continue
		}
		keys = append(keys, k)
	}
	active, next := find(keys, storage.KeyActive), find(keys, storage.KeyNext)
	switch {
	case active < 0 && next >= 0:
		// The active key was revoked (or lost): the next key takes over.
		keys[next].State, keys[next].ActivatedAt = storage.KeyActive, now
		events = append(events, event{Activated, keys[next].ID})
	case active < 0:
		// First start: nothing has been signed yet, so the first key may sign
		// at once.
		k, err := f.take(now)
		if err != nil {
			return nil, nil, err
		}
		k.State, k.ActivatedAt = storage.KeyActive, now
		keys = append(keys, k)
		events = append(events, event{Created, k.ID}, event{Activated, k.ID})
	case next >= 0 && !now.Before(keys[active].ActivatedAt.Add(m.opts.RotationPeriod)) &&
		published(keys[next], now, m.opts.Prepublish):
		var more []event
		var err error
		keys, more, err = m.rotate(keys, active, next, now, f)
		if err != nil {
			return nil, nil, err
		}
		events = append(events, more...)
	}
	if find(keys, storage.KeyNext) < 0 {
		k, err := f.take(now)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		events = append(events, event{Created, k.ID})
	}
	return keys, events, nil
}

// rotate retires keys[active], activates keys[next] and publishes a new next key.
func (m *Manager) rotate(keys []storage.SigningKey, active, next int, now time.Time, f *fresh) ([]storage.SigningKey, []event, error) {
	k, err := f.take(now)
	if err != nil {
		return nil, nil, err
	}
	a, n := &keys[active], &keys[next]
	a.State, a.RetiredAt, a.RemoveAfter = storage.KeyRetired, now, now.Add(m.opts.Retention)
	n.State, n.ActivatedAt = storage.KeyActive, now
	keys = append(keys, k)
	return keys, []event{{Retired, a.ID}, {Activated, n.ID}, {Created, k.ID}}, nil
}

// update runs s in one UpdateSigningKeys transaction and returns the key
// set and the transitions it made. Keys are generated outside it: when s
// needs more fresh keys than were made, the transaction is abandoned, one
// more key is made, and s runs again on the current set.
func (m *Manager) update(ctx context.Context, s step) ([]storage.SigningKey, []event, error) {
	f := &fresh{alg: m.opts.Algorithm, cipher: m.opts.Cipher}
	for {
		var events []event
		stored, err := m.opts.Store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
			f.used = 0 // the backend may run this more than once
			now := m.opts.Now()
			out, evs, err := s(keys, now, f)
			events = evs
			return out, err
		})
		if errors.Is(err, errNeedKey) {
			if err := f.generate(m.opts.Now()); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("update signing keys: %w", err)
		}
		for _, e := range events {
			m.opts.Logger.Info("signing key "+string(e.t), "kid", e.kid)
			if m.opts.OnTransition != nil {
				m.opts.OnTransition(e.t)
			}
		}
		return stored, events, nil
	}
}

// load swaps in a Set built from stored.
func (m *Manager) load(stored []storage.SigningKey) error {
	s, err := newSet(stored, m.opts.Cipher, m.current.Load())
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	m.current.Store(s)
	return nil
}

// errNeedKey: a step needs one more freshly generated key than it was given.
var errNeedKey = errors.New("need a freshly generated key")

// fresh hands out keys generated before the transaction. In a dry run it
// hands out placeholders, to learn whether anything is due without the cost
// of generating.
type fresh struct {
	dry    bool
	alg    string
	cipher *Cipher
	keys   []storage.SigningKey
	used   int
}

func (f *fresh) take(now time.Time) (storage.SigningKey, error) {
	if f.dry {
		return storage.SigningKey{ID: fmt.Sprintf("dry-run-%d", f.used), State: storage.KeyNext, CreatedAt: now}, nil
	}
	if f.used == len(f.keys) {
		return storage.SigningKey{}, errNeedKey
	}
	k := f.keys[f.used]
	f.used++
	// Published from the moment it is stored, not from when it was made.
	k.CreatedAt = now
	return k, nil
}

func (f *fresh) generate(now time.Time) error {
	k, _, err := generate(f.alg, f.cipher, now)
	if err != nil {
		return err
	}
	f.keys = append(f.keys, k)
	return nil
}

func find(keys []storage.SigningKey, state storage.KeyState) int {
	for i, k := range keys {
		if k.State == state {
			return i
		}
	}
	return -1
}
