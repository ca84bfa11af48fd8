package core

import (
	"context"
	"sync"
	"time"
)

// describeCache keeps what the brokers said of topics (that a topic
// exists, its max.message.bytes), asked only when nothing fresh is known:
// an entry is fresh for ttl(value). It holds at most max entries; past
// that the stale ones go, then all (names made up by a flood of records
// start it afresh). Errors are not cached. Safe for concurrent use.
type describeCache[V any] struct {
	describe func(ctx context.Context, topic string) (V, error)
	ttl      func(V) time.Duration
	max      int
	now      func() time.Time

	mu    sync.Mutex
	known map[string]described[V]
}

type described[V any] struct {
	value   V
	checked time.Time
}

func newDescribeCache[V any](describe func(context.Context, string) (V, error), ttl func(V) time.Duration, maxEntries int) *describeCache[V] {
	return &describeCache[V]{describe: describe, ttl: ttl, max: maxEntries, now: time.Now, known: map[string]described[V]{}}
}

// get returns what is known of topic, asking the brokers when the cache has
// nothing fresh. An error means the brokers could not say.
func (c *describeCache[V]) get(ctx context.Context, topic string) (V, error) {
	now := c.now()
	c.mu.Lock()
	d, ok := c.known[topic]
	c.mu.Unlock()
	if ok && now.Sub(d.checked) < c.ttl(d.value) {
		return d.value, nil
	}
	v, err := c.describe(ctx, topic)
	if err != nil {
		var zero V
		return zero, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.known) >= c.max {
		for k, d := range c.known {
			if now.Sub(d.checked) >= c.ttl(d.value) {
				delete(c.known, k)
			}
		}
		if len(c.known) >= c.max {
			clear(c.known)
		}
	}
	c.known[topic] = described[V]{value: v, checked: now}
	return v, nil
}
