package transport

import (
	"context"
	"time"

	"github.com/brokerkit/brokerkit/transport/internal/core"
)

// SubscribeOption configures one subscription. Invalid values make Subscribe
// return an ErrInvalid error naming the option.
type SubscribeOption func(*core.SubscribeConfig) error

// StartPosition is where a new group, or a subscription without a group,
// starts reading on backends that keep history (Kafka).
type StartPosition int

const (
	// StartNewest: only messages published from now on (the default).
	StartNewest StartPosition = iota
	// StartOldest: every message the broker still holds. Backends that keep
	// no log (memory, RabbitMQ) refuse it with an ErrInvalid error.
	StartOldest
)

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
	return func(c *core.SubscribeConfig) error {
		if name == "" {
			return Invalidf("WithGroup: empty group name")
		}
		c.Group = name
		return nil
	}
}

// WithConcurrency sets how many handlers run at once. Default 1.
func WithConcurrency(n int) SubscribeOption {
	return func(c *core.SubscribeConfig) error {
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
	return func(c *core.SubscribeConfig) error {
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
	return func(c *core.SubscribeConfig) error {
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
	return func(c *core.SubscribeConfig) error {
		if p != StartNewest && p != StartOldest {
			return Invalidf("WithStart: unknown position %d", p)
		}
		c.StartOldest = p == StartOldest
		return nil
	}
}

// WithLifetime ties the subscription to ctx: when ctx ends, the
// subscription stops as Close stops it, and Subscription.Err returns ctx's
// error. Default: none; the subscription runs until it is closed. (The
// context given to Subscribe bounds only the Subscribe call, as
// net.Dialer's does the dial.)
func WithLifetime(ctx context.Context) SubscribeOption {
	return func(c *core.SubscribeConfig) error {
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
	return func(c *core.SubscribeConfig) error {
		if min < 0 || max < min {
			return Invalidf("WithBackoff: need 0 <= min <= max, got %v, %v", min, max)
		}
		c.MinBackoff, c.MaxBackoff = min, max
		return nil
	}
}
