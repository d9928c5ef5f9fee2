package middleware

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Retry defaults, as documented on each option.
const (
	DefaultRetryMaxAttempts = 3
	DefaultRetryInitial     = 100 * time.Millisecond
	DefaultRetryMax         = 10 * time.Second
	DefaultRetryMultiplier  = 2.0
	DefaultRetryJitter      = 0.2
)

// RetryOption configures Retry.
type RetryOption func(*retryConfig) error

type retryConfig struct {
	maxAttempts    int
	initial, max   time.Duration
	multiplier     float64
	jitter         float64
	maxElapsed     time.Duration
	attemptTimeout time.Duration
	retryIf        func(error) bool
	onRetry        func(ctx context.Context, m *transport.Message, attempt int, err error, wait time.Duration)
}

// RetryMaxAttempts sets how many times the handler runs for one delivery,
// the first run included. Default 3.
func RetryMaxAttempts(n int) RetryOption {
	return func(c *retryConfig) error {
		if n < 1 {
			return transport.Invalidf("RetryMaxAttempts: %d is less than 1", n)
		}
		c.maxAttempts = n
		return nil
	}
}

// RetryBackoff sets the wait after the first failed attempt (initial) and
// its cap (max); the wait is multiplied by RetryMultiplier after each
// failure. Default 100ms, 10s.
func RetryBackoff(initial, max time.Duration) RetryOption {
	return func(c *retryConfig) error {
		if initial < 0 || max < initial {
			return transport.Invalidf("RetryBackoff: need 0 <= initial <= max, got %v, %v", initial, max)
		}
		c.initial, c.max = initial, max
		return nil
	}
}

// RetryMultiplier sets the factor the wait grows by after each failure.
// Default 2.
func RetryMultiplier(f float64) RetryOption {
	return func(c *retryConfig) error {
		if !(f >= 1) { // also rejects NaN
			return transport.Invalidf("RetryMultiplier: %v is less than 1", f)
		}
		c.multiplier = f
		return nil
	}
}

// RetryJitter spreads each wait uniformly over [w·(1-f), w·(1+f)], capped at
// the maximum, so that handlers failing together do not retry in lockstep.
// Default 0.2; 0 turns jitter off.
func RetryJitter(f float64) RetryOption {
	return func(c *retryConfig) error {
		if !(f >= 0 && f <= 1) {
			return transport.Invalidf("RetryJitter: %v is not within [0, 1]", f)
		}
		c.jitter = f
		return nil
	}
}

// RetryMaxElapsed bounds the time spent on one delivery: no attempt starts
// after it, and no wait is begun that would end after it. Default 0: bounded
// by RetryMaxAttempts only.
func RetryMaxElapsed(d time.Duration) RetryOption {
	return func(c *retryConfig) error {
		if d < 0 {
			return transport.Invalidf("RetryMaxElapsed: negative duration %v", d)
		}
		c.maxElapsed = d
		return nil
	}
}

// RetryAttemptTimeout gives each attempt its own deadline: each attempt gets
// a fresh context derived from the handler's, so an attempt that timed out
// does not doom the next one, and it is cancelled when the attempt returns.
// Default 0: no per-attempt deadline; attempts run on the handler's context.
func RetryAttemptTimeout(d time.Duration) RetryOption {
	return func(c *retryConfig) error {
		if d < 0 {
			return transport.Invalidf("RetryAttemptTimeout: negative duration %v", d)
		}
		c.attemptTimeout = d
		return nil
	}
}

// RetryIf sets which errors are worth another attempt. Default
// transport.Retryable, under which errors marked transport.Permanent, bad
// input and closed resources are not retried.
func RetryIf(pred func(error) bool) RetryOption {
	return func(c *retryConfig) error {
		if pred == nil {
			return transport.Invalidf("RetryIf: nil predicate")
		}
		c.retryIf = pred
		return nil
	}
}

// OnRetry sets a hook called before each wait, with the attempt that just
// failed (1-based), its error and the wait ahead. It runs on the handler's
// goroutine, so it should be quick. Default none.
func OnRetry(hook func(ctx context.Context, m *transport.Message, attempt int, err error, wait time.Duration)) RetryOption {
	return func(c *retryConfig) error {
		if hook == nil {
			return transport.Invalidf("OnRetry: nil hook")
		}
		c.onRetry = hook
		return nil
	}
}

// Retry runs the handler again, in process, when it fails with an error
// worth retrying, waiting an exponentially growing, jittered backoff between
// attempts. With RetryAttemptTimeout, each attempt gets a fresh context
// derived from the handler's. Retry stops when the handler's context ends.
//
// Retry returns the last attempt's error unchanged once it gives up (attempts
// or time exhausted, an error not worth retrying, or the handler's context
// ended), so that what wraps it (DeadLetter, the backend's redelivery) still
// sees the cause and the message is not lost. Message.Attempt, the count of
// deliveries, is left alone: in-process attempts are not deliveries.
func Retry(opts ...RetryOption) (transport.Middleware, error) {
	c := retryConfig{
		maxAttempts: DefaultRetryMaxAttempts,
		initial:     DefaultRetryInitial,
		max:         DefaultRetryMax,
		multiplier:  DefaultRetryMultiplier,
		jitter:      DefaultRetryJitter,
		retryIf:     transport.Retryable,
	}
	if err := apply(&c, opts); err != nil {
		return nil, err
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			return c.run(ctx, m, next)
		}
	}, nil
}

func (c *retryConfig) run(ctx context.Context, m *transport.Message, next transport.Handler) error {
	var start time.Time
	if c.maxElapsed > 0 {
		start = time.Now()
	}
	wait := c.initial
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, m, next)
		if err == nil || attempt >= c.maxAttempts || ctx.Err() != nil || !c.retryIf(err) {
			return err
		}
		d := c.jittered(wait)
		if !c.roomFor(ctx, start, d) {
			return err
		}
		if c.onRetry != nil {
			c.onRetry(ctx, m, attempt, err, d)
		}
		if !sleep(ctx, d) {
			return err
		}
		wait = min(time.Duration(float64(wait)*c.multiplier), c.max)
	}
}

// attempt runs next. With RetryAttemptTimeout, the attempt gets a context
// of its own, derived from the handler's: its deadline is not inherited by
// the next attempt, and cancelling it when the attempt returns stops what
// the attempt started. Without one, attempts share the handler's context,
// which no attempt can end, and save the cost of deriving one.
func (c *retryConfig) attempt(ctx context.Context, m *transport.Message, next transport.Handler) error {
	if c.attemptTimeout <= 0 {
		return next(ctx, m)
	}
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	return next(ctx, m)
}

func (c *retryConfig) jittered(d time.Duration) time.Duration {
	if c.jitter > 0 && d > 0 {
		d = time.Duration(float64(d) * (1 - c.jitter + 2*c.jitter*rand.Float64()))
	}
	return min(d, c.max)
}

// roomFor reports whether a wait of d still leaves time for an attempt,
// within RetryMaxElapsed and the handler context's deadline.
func (c *retryConfig) roomFor(ctx context.Context, start time.Time, d time.Duration) bool {
	if c.maxElapsed > 0 && time.Since(start)+d >= c.maxElapsed {
		return false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	return true
}

// sleep waits d, and reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
