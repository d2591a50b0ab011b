package authz

import (
	"context"
	"sync"
	"time"
)

// Revocation list timing. A grant revoked on this instance is refused here
// at once; one revoked on another instance is refused here after the next
// reload, within revocationRefresh. When reloads fail for revocationStale,
// lookups go to the database again: a stale list never answers "live".
const (
	revocationRefresh = time.Second
	revocationStale   = 3 * revocationRefresh
)

// revocationStore is the slice of storage the list mirrors.
type revocationStore interface {
	GrantRevoked(ctx context.Context, requestID string) (bool, error)
	RevokedGrants(ctx context.Context, now time.Time) ([]string, error)
}

// revocationList keeps the revoked grants in memory, so checking a JWT
// access token costs no query: that read, and Postgres answering it, was
// the largest share of introspection after the signature. Revoked grants
// are few (each is kept only as long as an access token lives), so the
// whole list is reloaded each time.
type revocationList struct {
	store revocationStore
	now   func() time.Time

	mu       sync.RWMutex
	grants   map[string]struct{}
	loadedAt time.Time
	// local are grants revoked here since recent reloads began, kept
	// across a reload whose query may have started before their commit.
	local map[string]time.Time
}

func newRevocationList(store revocationStore, now func() time.Time) *revocationList {
	return &revocationList{store: store, now: now, grants: map[string]struct{}{}, local: map[string]time.Time{}}
}

// revoked reports whether grant was revoked.
func (l *revocationList) revoked(ctx context.Context, grant string) (bool, error) {
	l.mu.RLock()
	_, hit := l.grants[grant]
	fresh := l.now().Sub(l.loadedAt) < revocationStale
	l.mu.RUnlock()
	if hit || fresh {
		return hit, nil
	}
	return l.store.GrantRevoked(ctx, grant)
}

// add records a grant this instance revoked.
func (l *revocationList) add(grant string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.grants[grant] = struct{}{}
	l.local[grant] = l.now()
}

// reload replaces the list with the database's.
func (l *revocationList) reload(ctx context.Context) error {
	started := l.now()
	ids, err := l.store.RevokedGrants(ctx, started)
	if err != nil {
		return err
	}
	grants := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		grants[id] = struct{}{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, at := range l.local {
		if started.Sub(at) > revocationStale {
			delete(l.local, id) // committed long before this reload read
			continue
		}
		grants[id] = struct{}{}
	}
	l.grants, l.loadedAt = grants, started
	return nil
}

// FollowRevocations reloads the revocation list every revocationRefresh
// until ctx is done; serve runs it beside Sweep.
func (p *Provider) FollowRevocations(ctx context.Context) {
	t := time.NewTicker(revocationRefresh)
	defer t.Stop()
	for {
		if err := p.revocations.reload(ctx); err != nil && ctx.Err() == nil {
			p.opts.Logger.Warn("reload revoked grants", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
