package bridge

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/brokerkit/brokerkit/transport"
)

// Option configures a Bridge.
type Option func(*config) error

type config struct {
	subOpts []transport.SubscribeOption
	mws     []transport.Middleware
	copy    func(*transport.Message) *transport.Message
}

// WithSubscribeOptions passes options to the source's Subscribe: a group
// (WithGroup, so that a restarted bridge resumes where it stopped), the
// concurrency, the start position. Default: none, an ephemeral subscription.
func WithSubscribeOptions(opts ...transport.SubscribeOption) Option {
	return func(c *config) error {
		for i, o := range opts {
			if o == nil {
				return transport.Invalidf("bridge: WithSubscribeOptions: option #%d is nil", i)
			}
		}
		c.subOpts = append(c.subOpts, opts...)
		return nil
	}
}

// WithMiddleware runs handler middleware around the forward of each source
// message, the first outermost: deduplication (middleware.Dedup), retries,
// logging, latency. A middleware that returns nil without calling on (Dedup
// for a message already forwarded) acknowledges the source message without
// forwarding it. Default: none.
func WithMiddleware(mws ...transport.Middleware) Option {
	return func(c *config) error {
		for i, m := range mws {
			if m == nil {
				return transport.Invalidf("bridge: WithMiddleware: middleware #%d is nil", i)
			}
		}
		c.mws = append(c.mws, mws...)
		return nil
	}
}

// WithTransform replaces the copy made for the destination: f receives the
// source message and returns the message to publish (nil: drop it, and
// acknowledge the source). Default: the ID, key, payload and metadata,
// unchanged.
func WithTransform(f func(*transport.Message) *transport.Message) Option {
	return func(c *config) error {
		if f == nil {
			return transport.Invalidf("bridge: WithTransform: nil function")
		}
		c.copy = f
		return nil
	}
}

// Counters are a bridge's counts since it was made.
type Counters struct {
	// Received counts deliveries from the source, redeliveries included.
	Received uint64
	// Forwarded counts messages the destination confirmed.
	Forwarded uint64
	// Failed counts forwards that failed; their source messages were not
	// acknowledged and come back.
	Failed uint64
	// Skipped counts deliveries acknowledged without a forward: dropped by
	// WithTransform or by a middleware (a duplicate).
	Skipped uint64
}

// Bridge forwards the messages of a source topic to a destination topic.
type Bridge struct {
	src      transport.Subscriber
	srcTopic string
	dst      transport.Publisher
	dstTopic string
	cfg      config

	received, forwarded, failed, skipped atomic.Uint64

	mu        sync.Mutex
	running   bool
	ready     chan struct{}
	readyOnce sync.Once
}

// New checks its arguments and returns a Bridge that Run starts.
func New(src transport.Subscriber, srcTopic string, dst transport.Publisher, dstTopic string, opts ...Option) (*Bridge, error) {
	if src == nil {
		return nil, transport.Invalidf("bridge: nil source subscriber")
	}
	if dst == nil {
		return nil, transport.Invalidf("bridge: nil destination publisher")
	}
	if srcTopic == "" || dstTopic == "" {
		return nil, transport.Invalidf("bridge: empty source or destination topic")
	}
	b := &Bridge{src: src, srcTopic: srcTopic, dst: dst, dstTopic: dstTopic, ready: make(chan struct{})}
	for i, o := range opts {
		if o == nil {
			return nil, transport.Invalidf("bridge: option #%d is nil", i)
		}
		if err := o(&b.cfg); err != nil {
			return nil, err
		}
	}
	if b.cfg.copy == nil {
		b.cfg.copy = Copy
	}
	return b, nil
}

// Run is New followed by Bridge.Run.
func Run(ctx context.Context, src transport.Subscriber, srcTopic string, dst transport.Publisher, dstTopic string, opts ...Option) error {
	b, err := New(src, srcTopic, dst, dstTopic, opts...)
	if err != nil {
		return err
	}
	return b.Run(ctx)
}

// Run subscribes to the source and forwards until ctx ends, then closes the
// subscription, which drains the forwards in flight, and returns nil. It
// returns earlier with the Subscribe error, or with the error that ended the
// subscription by itself. A Bridge runs once at a time; it does not close
// the source or destination, which belong to the caller.
func (b *Bridge) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.running {
		b.mu.Unlock()
		return transport.Invalidf("bridge: already running")
	}
	b.running = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running = false
		b.mu.Unlock()
	}()

	h := transport.Chain(b.forward, b.mws()...)
	sub, err := b.src.Subscribe(ctx, b.srcTopic, h, b.cfg.subOpts...)
	if err != nil {
		return err
	}
	b.readyOnce.Do(func() { close(b.ready) })
	select {
	case <-ctx.Done():
		// Close, not the context, ends a subscription: it drains and
		// acknowledges what the destination confirmed.
		return sub.Close()
	case <-sub.Done():
		return sub.Close()
	}
}

// mws puts the counting of deliveries outside the caller's middleware, so
// that a delivery a middleware acknowledged without forwarding is counted as
// skipped.
func (b *Bridge) mws() []transport.Middleware {
	count := func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			b.received.Add(1)
			var sent bool
			err := next(context.WithValue(ctx, sentKey{}, &sent), m)
			if err == nil && !sent {
				b.skipped.Add(1)
			}
			return err
		}
	}
	return append([]transport.Middleware{count}, b.cfg.mws...)
}

// sentKey marks, in a delivery's context, whether forward published it.
type sentKey struct{}

func (b *Bridge) forward(ctx context.Context, m *transport.Message) error {
	out := b.cfg.copy(m)
	if out == nil {
		return nil
	}
	if err := b.dst.Publish(ctx, b.dstTopic, out); err != nil {
		b.failed.Add(1)
		return err
	}
	b.forwarded.Add(1)
	if sent, ok := ctx.Value(sentKey{}).(*bool); ok {
		*sent = true
	}
	return nil
}

// Ready is closed once Run's subscription to the source is live: messages
// published to the source from then on are forwarded.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

// Counters returns the counts so far; safe to call while Run runs.
func (b *Bridge) Counters() Counters {
	return Counters{
		Received:  b.received.Load(),
		Forwarded: b.forwarded.Load(),
		Failed:    b.failed.Load(),
		Skipped:   b.skipped.Load(),
	}
}

// Copy is the default transform: a new message with m's ID, key, payload
// and metadata. The broker-set fields (topic, publish time, attempt) are the
// destination's to set.
func Copy(m *transport.Message) *transport.Message {
	out := &transport.Message{ID: m.ID, Key: m.Key, Payload: m.Payload}
	if len(m.Metadata) > 0 {
		out.Metadata = make(transport.Metadata, len(m.Metadata))
		for k, v := range m.Metadata {
			out.Metadata[k] = v
		}
	}
	return out
}
