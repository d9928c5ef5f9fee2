package driver

import (
	"context"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/internal/core"
)

// SubscribeConfig is what a subscription's options resolve to:
//
//   - Group: the group the subscription joins; "" for an ephemeral one.
//   - Concurrency: how many handlers run at once.
//   - Prefetch: how many messages may be taken from the broker and not yet
//     settled; backends map it onto their own knob (AMQP basic.qos).
//   - DrainTimeout: how long closing waits for the handlers.
//   - StartOldest: a new group starts at the oldest message kept
//     (transport.WithStart); a backend without a log refuses it.
//   - MinBackoff, MaxBackoff, and Backoff(attempt): the wait before a
//     failed message is settled for redelivery.
//   - Lifetime: when not nil, the subscription ends when it ends.
type SubscribeConfig = core.SubscribeConfig

// NewSubscribeConfig applies opts over the documented defaults.
func NewSubscribeConfig(opts ...transport.SubscribeOption) (SubscribeConfig, error) {
	c := SubscribeConfig{
		Concurrency:  transport.DefaultConcurrency,
		DrainTimeout: transport.DefaultDrainTimeout,
		MinBackoff:   transport.DefaultMinBackoff,
		MaxBackoff:   transport.DefaultMaxBackoff,
	}
	for _, o := range opts {
		if o == nil {
			return c, transport.Invalidf("nil SubscribeOption")
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

// PrepareSubscribe validates a Subscribe call, the subscribe-side twin of
// Prepare: the topic, the handler and the options. Backends call it first
// and add their own checks to the config it returns.
func PrepareSubscribe(ctx context.Context, topic string, h transport.Handler, opts []transport.SubscribeOption) (SubscribeConfig, error) {
	if ctx == nil {
		return SubscribeConfig{}, transport.Invalidf("nil context")
	}
	cfg, err := NewSubscribeConfig(opts...)
	if err != nil {
		return cfg, err
	}
	if err := CheckTopic(topic); err != nil {
		return cfg, err
	}
	if h == nil {
		return cfg, transport.Invalidf("nil handler")
	}
	if err := ctx.Err(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// ErrNoLog refuses transport.WithStart(transport.StartOldest) on a backend
// whose broker keeps no log to replay; every such backend says the same.
func ErrNoLog(backend string) error {
	return transport.Invalidf("WithStart(StartOldest): the %s broker keeps no log to replay (see docs/portability.md)", backend)
}

// Subscribe is the skeleton of every backend's Subscribe: it validates the
// call, refuses it once subs is closed, opens the backend's Receiver with
// open (which declares topology, joins groups, resolves offsets: the
// subscription is live when it returns), runs it with Serve and tracks the
// subscription in subs. ctx bounds open only.
func Subscribe(ctx context.Context, subs *Subscriptions, topic string, h transport.Handler, opts []transport.SubscribeOption,
	open func(ctx context.Context, cfg SubscribeConfig) (Receiver, error)) (*transport.Subscription, error) {
	cfg, err := PrepareSubscribe(ctx, topic, h, opts)
	if err != nil {
		return nil, err
	}
	if subs.Closed() {
		return nil, transport.ErrClosed
	}
	r, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := Serve(ctx, r, h, cfg)
	if err := subs.Add(s); err != nil {
		return nil, err
	}
	return s, nil
}

// SetNative records the client's own message on m, for Message.As to hand
// out (a kafka-go kafka.Message, an amqp091.Delivery).
func SetNative(m *transport.Message, native any) { core.SetNative(m, native) }
