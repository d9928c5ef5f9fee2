// Package core holds what package transport/driver needs from inside package
// transport's types, so that transport's documentation shows its users only
// what they use. Package transport fills in the functions at init.
package core

import (
	"context"
	"time"
)

// SubscribeConfig is what a subscription's options resolve to; package
// driver documents it as driver.SubscribeConfig.
type SubscribeConfig struct {
	Group                  string
	Concurrency            int
	Prefetch               int
	DrainTimeout           time.Duration
	StartOldest            bool
	MinBackoff, MaxBackoff time.Duration
	Lifetime               context.Context
}

// Set by package transport's init. Types of package transport travel as any,
// since this package cannot import it.
var (
	// NewSubscription returns a new *transport.Subscription, the channel its
	// Close closes, and finish, which records why it ended and closes Done.
	NewSubscription func() (sub any, stop <-chan struct{}, finish func(error))
	// SetNative records a *transport.Message's native message, for As.
	SetNative func(m any, native any)
)

// Backoff is the wait before returning a message that failed on the given
// attempt (1-based): MinBackoff doubled per attempt, capped at MaxBackoff.
func (c SubscribeConfig) Backoff(attempt int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < attempt && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}
