package transport

import (
	"context"
	"fmt"
	"time"
)

// SubscribeOption configures one subscription. Invalid values make Subscribe
// return an ErrInvalid error naming the option.
type SubscribeOption func(*SubscribeConfig) error

// StartPosition is where a new group, or a subscription without a group,
// starts reading on backends that keep history (Kafka).
type StartPosition int

const (
	// StartNewest: only messages published from now on (the default).
	StartNewest StartPosition = iota
	// StartOldest: every message the broker still holds.
	StartOldest
)

// SubscribeConfig is the resolved form of the options, for backends.
type SubscribeConfig struct {
	// Group shares messages among the subscriptions that name it; every
	// group gets every message. Empty: an ephemeral subscription.
	Group string
	// Concurrency is how many handlers run at once. Messages with the same
	// key still run one at a time, in order.
	Concurrency int
	// Prefetch bounds the messages taken from the broker but not yet
	// settled. Backends map it onto their own knob (AMQP basic.qos, the
	// memory backend's in-flight window).
	Prefetch int
	// DrainTimeout is how long Close waits for in-flight handlers before
	// cancelling their contexts.
	DrainTimeout time.Duration
	// Start is where a new group or an ephemeral subscription begins.
	Start StartPosition
	// MinBackoff and MaxBackoff bound the wait before a failed message is
	// returned for redelivery: MinBackoff doubled per attempt, capped.
	MinBackoff, MaxBackoff time.Duration
	// Lifetime, when not nil, ends the subscription when it ends.
	Lifetime context.Context
}

// Defaults, as documented on each option.
const (
	DefaultConcurrency  = 1
	DefaultDrainTimeout = 10 * time.Second
	DefaultMinBackoff   = 20 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
)

// WithGroup makes the subscription a member of a consumer group (Kafka
// consumer group, RabbitMQ durable queue). Default: none, an ephemeral
// subscription that sees what is published while it lives.
func WithGroup(name string) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if name == "" {
			return Invalidf("WithGroup: empty group name")
		}
		c.Group = name
		return nil
	}
}

// WithConcurrency sets how many handlers run at once. Default 1.
func WithConcurrency(n int) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if n < 1 {
			return Invalidf("WithConcurrency: %d is less than 1", n)
		}
		c.Concurrency = n
		return nil
	}
}

// WithPrefetch bounds how many messages are taken from the broker ahead of
// the handlers. Default: 2 × concurrency, at least 8.
func WithPrefetch(n int) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if n < 1 {
			return Invalidf("WithPrefetch: %d is less than 1", n)
		}
		c.Prefetch = n
		return nil
	}
}

// WithDrainTimeout sets how long closing waits for in-flight handlers before
// cancelling their contexts. Default 10s.
func WithDrainTimeout(d time.Duration) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if d < 0 {
			return Invalidf("WithDrainTimeout: negative duration %v", d)
		}
		c.DrainTimeout = d
		return nil
	}
}

// WithStart sets where a new group or an ephemeral subscription starts on
// backends that keep history. Default StartNewest.
func WithStart(p StartPosition) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if p != StartNewest && p != StartOldest {
			return Invalidf("WithStart: unknown position %d", p)
		}
		c.Start = p
		return nil
	}
}

// WithLifetime ties the subscription to ctx: when ctx ends, the
// subscription stops as Close stops it, and Subscription.Err returns ctx's
// error. Default: none; the subscription runs until it is closed. (The
// context given to Subscribe bounds only the Subscribe call, as
// net.Dialer's does the dial.)
func WithLifetime(ctx context.Context) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if ctx == nil {
			return Invalidf("WithLifetime: nil context")
		}
		c.Lifetime = ctx
		return nil
	}
}

// WithBackoff sets the wait before a failed message is returned for
// redelivery: min doubled per attempt, capped at max. Default 20ms to 5s.
func WithBackoff(min, max time.Duration) SubscribeOption {
	return func(c *SubscribeConfig) error {
		if min < 0 || max < min {
			return Invalidf("WithBackoff: need 0 <= min <= max, got %v, %v", min, max)
		}
		c.MinBackoff, c.MaxBackoff = min, max
		return nil
	}
}

// NewSubscribeConfig applies opts over the defaults. Backends call it first
// in Subscribe.
func NewSubscribeConfig(opts ...SubscribeOption) (SubscribeConfig, error) {
	c := SubscribeConfig{
		Concurrency:  DefaultConcurrency,
		DrainTimeout: DefaultDrainTimeout,
		MinBackoff:   DefaultMinBackoff,
		MaxBackoff:   DefaultMaxBackoff,
	}
	for _, o := range opts {
		if o == nil {
			return c, Invalidf("nil SubscribeOption")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if c.Prefetch == 0 {
		c.Prefetch = max(2*c.Concurrency, 8)
	}
	return c, nil
}

// Backoff is the wait before returning a message that failed on the given
// attempt (1-based).
func (c SubscribeConfig) Backoff(attempt int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < attempt && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

func (c SubscribeConfig) String() string {
	return fmt.Sprintf("group=%q concurrency=%d prefetch=%d", c.Group, c.Concurrency, c.Prefetch)
}
