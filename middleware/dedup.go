package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// ClaimResult is what a Store says about a key a delivery wants to handle.
type ClaimResult int

const (
	// Claimed: the key is now this delivery's until its lease ends.
	Claimed ClaimResult = iota + 1
	// Done: a delivery of the key was handled successfully already.
	Done
	// Busy: another delivery holds a live lease on the key; it is being
	// handled right now, here or in another process.
	Busy
)

func (r ClaimResult) String() string {
	switch r {
	case Claimed:
		return "claimed"
	case Done:
		return "done"
	case Busy:
		return "busy"
	}
	return fmt.Sprintf("ClaimResult(%d)", int(r))
}

// Store remembers which message keys are being handled and which were
// handled, for Dedup. Implementations are safe for concurrent use; a store
// shared by several processes (redisstore) deduplicates across them.
//
// A key goes from absent to claimed (Claim, with a lease), then to done
// (MarkDone, with a TTL) when its handler succeeded, or back to absent
// (Release) when it failed. A claim whose lease ran out counts as absent, so
// a crashed process does not block a key for longer than the lease.
type Store interface {
	// Claim takes key for the caller, identified by token, unless it is
	// done or held by a live lease of another token.
	Claim(ctx context.Context, key, token string, lease time.Duration) (ClaimResult, error)
	// MarkDone records key as handled for ttl, whoever holds it.
	MarkDone(ctx context.Context, key string, ttl time.Duration) error
	// Release drops the claim on key if token still holds it.
	Release(ctx context.Context, key, token string) error
}

// ErrBusy is what Dedup returns for a delivery whose key another delivery is
// handling right now: the message is not acknowledged, so it comes back
// later, by when the other delivery has either finished (the redelivery is
// then skipped) or failed (the redelivery is then handled).
var ErrBusy = errors.New("middleware: duplicate delivery is being handled elsewhere")

// Dedup defaults, as documented on each option.
const (
	DefaultDedupLease = time.Minute
	DefaultDedupTTL   = time.Hour
)

// DedupOption configures Dedup.
type DedupOption func(*dedupConfig) error

type dedupConfig struct {
	store  Store
	key    func(*transport.Message) string
	lease  time.Duration
	ttl    time.Duration
	logger *slog.Logger
}

// DedupKey sets what identifies duplicates. Default: Message.ID, which every
// backend keeps across redeliveries and which a publisher retry keeps when it
// republishes the same Message. A message whose key is "" is handled without
// deduplication.
func DedupKey(key func(*transport.Message) string) DedupOption {
	return func(c *dedupConfig) error {
		if key == nil {
			return transport.Invalidf("DedupKey: nil function")
		}
		c.key = key
		return nil
	}
}

// DedupLease sets how long a claim keeps other deliveries of the key away.
// It must exceed the longest handling, retries included: once it runs out,
// another delivery may handle the key while the first is still at it.
// Default 1m.
func DedupLease(d time.Duration) DedupOption {
	return func(c *dedupConfig) error {
		if d <= 0 {
			return transport.Invalidf("DedupLease: %v is not positive", d)
		}
		c.lease = d
		return nil
	}
}

// DedupTTL sets how long a handled key is remembered, and so how far apart
// two deliveries may be and still count as duplicates. Default 1h.
func DedupTTL(d time.Duration) DedupOption {
	return func(c *dedupConfig) error {
		if d <= 0 {
			return transport.Invalidf("DedupTTL: %v is not positive", d)
		}
		c.ttl = d
		return nil
	}
}

// DedupLogger sets where store failures after a handled message are
// reported (a failed MarkDone means a later duplicate may be handled again).
// Default: none.
func DedupLogger(l *slog.Logger) DedupOption {
	return func(c *dedupConfig) error {
		c.logger = l
		return nil
	}
}

// Dedup handles each message key once: a delivery whose key was handled
// successfully already is acknowledged without running the handler.
//
// A key counts as handled only after its handler returned nil. A delivery
// first claims the key in the store with a lease; on success it marks the key
// done, on failure it releases the claim, so the redelivery of a failed
// message is handled, never skipped. While one delivery holds the claim, a
// concurrent delivery of the same key (a duplicate consumed by another
// subscriber, here or in another process) returns ErrBusy and is delivered
// again later. A store that cannot be reached makes Dedup return the store's
// error: the message is not acknowledged, rather than handled twice.
func Dedup(store Store, opts ...DedupOption) (transport.Middleware, error) {
	if store == nil {
		return nil, transport.Invalidf("Dedup: nil store")
	}
	c := dedupConfig{
		store: store,
		key:   func(m *transport.Message) string { return m.ID },
		lease: DefaultDedupLease,
		ttl:   DefaultDedupTTL,
	}
	if err := apply(&c, opts); err != nil {
		return nil, err
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			return c.handle(ctx, m, next)
		}
	}, nil
}

func (c *dedupConfig) handle(ctx context.Context, m *transport.Message, next transport.Handler) error {
	key := c.key(m)
	if key == "" {
		return next(ctx, m)
	}
	token := transport.NewID()
	res, err := c.store.Claim(ctx, key, token, c.lease)
	if err != nil {
		return fmt.Errorf("middleware: dedup claim: %w", err)
	}
	switch res {
	case Done:
		return nil
	case Busy:
		return ErrBusy
	}
	err = next(ctx, m)
	// The store calls below must happen even when the subscription is
	// closing, or the key stays claimed until its lease runs out.
	storeCtx := ctx
	if ctx.Err() != nil {
		storeCtx = context.WithoutCancel(ctx)
	}
	if err != nil {
		if rerr := c.store.Release(storeCtx, key, token); rerr != nil && c.logger != nil {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "dedup: release failed; the key stays busy until its lease ends",
				slog.String("topic", m.Topic), slog.String("id", m.ID), slog.Any("error", rerr))
		}
		return err
	}
	if err := c.store.MarkDone(storeCtx, key, c.ttl); err != nil && c.logger != nil {
		// The handler succeeded: acknowledge anyway. Failing here would
		// have the message redelivered and handled again for certain.
		c.logger.LogAttrs(ctx, slog.LevelWarn, "dedup: mark done failed; a later duplicate may be handled again",
			slog.String("topic", m.Topic), slog.String("id", m.ID), slog.Any("error", err))
	}
	return nil
}
