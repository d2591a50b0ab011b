package authz

import (
	"context"
	"sync"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// clientCacheTTL is how long a client read from storage is reused. The
// token endpoint reads the client on every request; at thousands of
// requests a second that read was a sixth of the endpoint's time. A client
// changed or deleted with `foyer clients` (another process) therefore takes
// effect on running servers within this long.
const clientCacheTTL = 5 * time.Second

// clientCache keeps recently read clients in memory. Unknown client IDs
// are not remembered: a client created a moment ago must work at once, and
// garbage IDs must not fill memory.
type clientCache struct {
	store storage.Clients
	ttl   time.Duration
	now   func() time.Time

	mu      sync.RWMutex
	clients map[string]cachedClient
}

type cachedClient struct {
	client  *client
	fetched time.Time
}

func newClientCache(store storage.Clients, ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{store: store, ttl: ttl, now: now, clients: map[string]cachedClient{}}
}

// get returns the client, from memory when it was read less than ttl ago.
// Errors are those of getClient.
func (cc *clientCache) get(ctx context.Context, id string) (*client, error) {
	now := cc.now()
	cc.mu.RLock()
	c, ok := cc.clients[id]
	cc.mu.RUnlock()
	if ok && now.Sub(c.fetched) < cc.ttl {
		return c.client, nil
	}
	fresh, err := getClient(ctx, cc.store, id)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if err != nil {
		delete(cc.clients, id)
		return nil, err
	}
	cc.clients[id] = cachedClient{client: fresh, fetched: now}
	return fresh, nil
}
