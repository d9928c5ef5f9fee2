package middleware

import (
	"context"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Timeout gives each handling a deadline of d through its context.
//
// The handler runs on the caller's goroutine: Go cannot stop a goroutine from
// outside, and abandoning it would let it run on, unaccounted for, while the
// message is redelivered. A handler that ignores its context therefore runs
// past the deadline; one that honours it returns context.DeadlineExceeded,
// which Retry retries and the backend redelivers. A handler that finishes
// successfully after the deadline still acknowledges its message.
func Timeout(d time.Duration) (transport.Middleware, error) {
	if d <= 0 {
		return nil, transport.Invalidf("Timeout: %v is not positive", d)
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, m)
		}
	}, nil
}
