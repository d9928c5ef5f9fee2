package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

// DefaultPrefix is put before every key unless WithPrefix says otherwise.
const DefaultPrefix = "brokerkit:dedup:"

const (
	claimPrefix = "claim:"
	doneValue   = "done"
)

// Option configures New.
type Option func(*Store) error

// WithPrefix sets the prefix of the Redis keys, so that several
// applications can share one Redis. Processes deduplicate together when
// they use the same prefix. Default DefaultPrefix.
func WithPrefix(p string) Option {
	return func(s *Store) error {
		s.prefix = p
		return nil
	}
}

// DefaultTimeout bounds each store call unless WithTimeout says otherwise.
const DefaultTimeout = time.Second

// WithTimeout bounds each call to Redis (claim, mark done, release). While
// Redis does not answer, every handling waits this long before its message
// is left unacknowledged for redelivery (Dedup cannot tell whether it was
// handled): the subscription stalls at one timeout per message, and loses
// nothing. Without a bound of its own the wait would be go-redis' read
// timeout (3 s by default) or longer. Default DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return transport.Invalidf("redisstore.WithTimeout: %v is not positive", d)
		}
		s.timeout = d
		return nil
	}
}

// Store is a middleware.Store on Redis, safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// New returns a store on rdb. The store does not own rdb: closing it is the
// caller's business.
func New(rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	if rdb == nil {
		return nil, transport.Invalidf("redisstore.New: nil client")
	}
	s := &Store{rdb: rdb, prefix: DefaultPrefix, timeout: DefaultTimeout}
	for _, o := range opts {
		if o == nil {
			return nil, transport.Invalidf("redisstore: nil Option")
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// claimScript: absent (or expired) → claim; done → done; claimed by the
// same token → extend; claimed by another → busy.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
if v == ARGV[3] then
	return 2
end
return 3
`)

// releaseScript deletes the key only while the caller's claim holds it, so
// a delivery whose lease ran out cannot drop the claim of the one that took
// over, nor a done mark.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// Claim implements middleware.Store.
func (s *Store) Claim(ctx context.Context, key, token string, lease time.Duration) (middleware.ClaimResult, error) {
	var n int
	err := s.do(ctx, "claim", func(ctx context.Context) (err error) {
		n, err = claimScript.Run(ctx, s.rdb, []string{s.prefix + key}, claimPrefix+token, millis(lease), doneValue).Int()
		return err
	})
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return middleware.Claimed, nil
	case 2:
		return middleware.Done, nil
	}
	return middleware.Busy, nil
}

// MarkDone implements middleware.Store.
func (s *Store) MarkDone(ctx context.Context, key string, ttl time.Duration) error {
	return s.do(ctx, "mark done", func(ctx context.Context) error {
		return s.rdb.Set(ctx, s.prefix+key, doneValue, max(ttl, time.Millisecond)).Err()
	})
}

// Release implements middleware.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.do(ctx, "release", func(ctx context.Context) error {
		return releaseScript.Run(ctx, s.rdb, []string{s.prefix + key}, claimPrefix+token).Err()
	})
}

// do runs one Redis call, waiting for it at most the store's timeout.
// go-redis applies a context's deadline to the connection only with
// Options.ContextTimeoutEnabled, which the store cannot count on in a
// client it does not own; so the call runs in a goroutine of its own, and
// one that outlives the timeout ends at the client's own read and write
// timeouts. Its outcome is then unknown, which the Store contract allows
// for: a claim made late expires with its lease.
func (s *Store) do(ctx context.Context, op string, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil || err == redis.Nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("redis did not answer within %v (redisstore.WithTimeout): %w", s.timeout, err)
	}
	return transport.NewError(transport.CodeUnavailable, "redis dedup "+op, err)
}

// millis is d in whole milliseconds, at least 1: PX 0 is an error in Redis.
func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

var _ middleware.Store = (*Store)(nil)
