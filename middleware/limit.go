package middleware

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// ConcurrencyLimiter bounds how many handlings run at once across every
// subscription whose handler it wraps: transport.WithConcurrency bounds one
// subscription, a ConcurrencyLimiter bounds a process's share of a scarce
// resource (database connections, a downstream API) however many
// subscriptions use it.
type ConcurrencyLimiter struct {
	slots chan struct{}
}

// NewConcurrencyLimiter returns a limiter allowing n handlings at once.
func NewConcurrencyLimiter(n int) (*ConcurrencyLimiter, error) {
	if n < 1 {
		return nil, transport.Invalidf("NewConcurrencyLimiter: %d is less than 1", n)
	}
	return &ConcurrencyLimiter{slots: make(chan struct{}, n)}, nil
}

// Middleware waits for a free slot before running the handler. When the
// handler's context ends first, it returns the context's error and the
// message is redelivered.
func (l *ConcurrencyLimiter) Middleware(next transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-l.slots }()
		return next(ctx, m)
	}
}

// InUse returns how many slots are taken.
func (l *ConcurrencyLimiter) InUse() int { return len(l.slots) }

// RateLimiter is a token bucket: it lets through rate messages a second on
// average, in bursts of up to burst. One RateLimiter shared by several
// subscriptions, or by handlers and publishers, bounds their total rate. It
// starts no goroutine: each caller computes when its token is due and waits
// for it.
type RateLimiter struct {
	interval time.Duration // between two tokens
	burst    int

	mu sync.Mutex
	// next is when the bucket will be full again (GCRA's theoretical
	// arrival time): each token taken pushes it an interval further; it
	// never lags behind now, since a full bucket holds no more.
	next time.Time
	now  func() time.Time
}

// NewRateLimiter returns a limiter of perSecond messages a second with
// bursts of up to burst.
func NewRateLimiter(perSecond float64, burst int) (*RateLimiter, error) {
	if !(perSecond > 0) || math.IsInf(perSecond, 1) {
		return nil, transport.Invalidf("NewRateLimiter: rate %v is not a positive number", perSecond)
	}
	if burst < 1 {
		return nil, transport.Invalidf("NewRateLimiter: burst %d is less than 1", burst)
	}
	return &RateLimiter{interval: time.Duration(float64(time.Second) / perSecond), burst: burst, now: time.Now}, nil
}

// Wait takes n tokens, waiting until they are due or ctx ends. When ctx
// ends first it returns ctx's error and gives the tokens back.
func (l *RateLimiter) Wait(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	if l.next.Before(now) {
		l.next = now
	}
	cost := time.Duration(n) * l.interval
	l.next = l.next.Add(cost)
	// The tokens are there once the bucket is no more than burst
	// intervals short of full.
	due := l.next.Add(-time.Duration(l.burst) * l.interval)
	l.mu.Unlock()
	if wait := due.Sub(now); wait > 0 && !sleep(ctx, wait) {
		l.mu.Lock()
		l.next = l.next.Add(-cost)
		l.mu.Unlock()
		return ctx.Err()
	}
	return nil
}

// Middleware waits for a token before running the handler; when the
// handler's context ends first, it returns the context's error and the
// message is redelivered.
func (l *RateLimiter) Middleware(next transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		if err := l.Wait(ctx, 1); err != nil {
			return err
		}
		return next(ctx, m)
	}
}

// Publisher waits for one token per message before each publish.
func (l *RateLimiter) Publisher(p transport.Publisher) transport.Publisher {
	return &rateLimitedPublisher{Publisher: p, l: l}
}

type rateLimitedPublisher struct {
	transport.Publisher
	l *RateLimiter
}

func (p *rateLimitedPublisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if err := p.l.Wait(ctx, len(msgs)); err != nil {
		return err
	}
	return p.Publisher.Publish(ctx, topic, msgs...)
}
