// Package backoff paces the retries of a backend reaching its broker
// (reconnecting, refetching): waits that double from Min up to Max and end
// early with their context. It is internal: the portable retry policy for
// handlers is driver.SubscribeConfig.Backoff and the middleware's Retry.
package backoff

import (
	"context"
	"time"
)

// Defaults for a zero Backoff.
const (
	DefaultMin = 100 * time.Millisecond
	DefaultMax = time.Second
)

// Backoff is the wait between tries; its zero value waits DefaultMin,
// doubling up to DefaultMax. It is not safe for concurrent use: each retry
// loop keeps its own.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Wait sleeps for the next delay and reports true, or reports false as
// soon as ctx ends.
func (b *Backoff) Wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = b.Min
		if b.next <= 0 {
			b.next = DefaultMin
		}
	}
	limit := b.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, limit)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Reset starts the next Wait from the minimum again, after a success.
func (b *Backoff) Reset() { b.next = 0 }
