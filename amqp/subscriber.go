package amqp

import (
	"context"
	"net/url"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Subscriber opens subscriptions to RabbitMQ topics, each on its own channel
// of one connection. It is safe for concurrent use.
type Subscriber struct {
	cfg  *config
	conn *connector
	subs driver.Subscriptions
}

// NewSubscriber returns a subscriber for an amqp:// or amqps:// URL (see
// Scheme for the query options; opts given here override the URL's). It
// connects lazily: the first Subscribe reaches the broker.
func NewSubscriber(rawURL string, opts ...SubscriberOption) (*Subscriber, error) {
	u, err := parseRaw(rawURL)
	if err != nil {
		return nil, err
	}
	dial, urlOpts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return newSubscriber(dial, append(roleOptions[SubscriberOption](urlOpts), opts...))
}

// NewSubscriberFromConnection returns a subscriber on a connection the
// caller owns. Subscriber.Close closes the channels it opened, never the
// connection. When the connection closes, subscriptions wait for it to be
// open again (amqp091-go's own Recovery, or nothing), and then resume:
// reconnecting is the owner's business.
func NewSubscriberFromConnection(conn *amqp.Connection, opts ...SubscriberOption) (*Subscriber, error) {
	if conn == nil {
		return nil, transport.Invalidf("amqp: nil *amqp091.Connection")
	}
	cfg, err := newConfig(subscriberRole, append(opts, adopt(conn)))
	if err != nil {
		return nil, err
	}
	return &Subscriber{cfg: cfg, conn: newConnector(cfg, "subscriber")}, nil
}

func newSubscriber(dial *url.URL, opts []SubscriberOption) (*Subscriber, error) {
	cfg, err := newURLConfig(subscriberRole, dial, opts)
	if err != nil {
		return nil, err
	}
	return &Subscriber{cfg: cfg, conn: newConnector(cfg, "subscriber")}, nil
}

// Subscribe starts handling the messages of topic and returns once the
// subscription is live: its exchange and queue are declared, the queue is
// bound and the broker registered the consumer (basic.consume-ok). With a
// group (transport.WithGroup) the queue is the group's durable queue, shared
// by its members; without one it is an exclusive queue of this subscription,
// deleted when it ends. An unreachable broker is retried until ctx ends.
func (s *Subscriber) Subscribe(ctx context.Context, topic string, h transport.Handler,
	opts ...transport.SubscribeOption) (*transport.Subscription, error) {
	if s.cfg.prefetch > 0 {
		// The URL's default comes first, so that the caller's WithPrefetch wins.
		opts = append([]transport.SubscribeOption{transport.WithPrefetch(s.cfg.prefetch)}, opts...)
	}
	if err := checkName(topic); err != nil {
		return nil, err
	}
	return driver.Subscribe(ctx, &s.subs, topic, h, opts, func(ctx context.Context, cfg driver.SubscribeConfig) (driver.Receiver, error) {
		if cfg.StartOldest {
			// A queue holds what was routed to it since it was bound; there
			// is no log to start from, and silently starting from now would lie.
			return nil, driver.ErrNoLog("RabbitMQ")
		}
		if cfg.Prefetch > 65535 {
			return nil, transport.Invalidf("amqp: prefetch %d: basic.qos takes at most 65535", cfg.Prefetch)
		}
		q, err := s.cfg.queueFor(topic, cfg.Group)
		if err != nil {
			return nil, err
		}
		r := newReceiver(s, topic, q, cfg)
		if err := r.start(ctx); err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	})
}

// Close closes every subscription (each drains, acks what finished and
// returns the rest to its queue), then the connection (not an adopted
// one). It is idempotent.
func (s *Subscriber) Close() error {
	err := s.subs.Close()
	s.conn.close()
	return err
}

var _ transport.Subscriber = (*Subscriber)(nil)
