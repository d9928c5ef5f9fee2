package kafka

import (
	"context"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Subscriber opens subscriptions to Kafka topics. It is safe for concurrent
// use.
type Subscriber struct {
	cfg     *config
	cluster *cluster
	subs    driver.Subscriptions
}

// NewSubscriber returns a subscriber for the given brokers ("host:port").
// It connects lazily: the first Subscribe reaches the brokers.
func NewSubscriber(brokers []string, opts ...SubscriberOption) (*Subscriber, error) {
	cfg, err := newConfig(subscriberRole, brokers, opts)
	if err != nil {
		return nil, err
	}
	return &Subscriber{cfg: cfg, cluster: newCluster(cfg)}, nil
}

// Subscribe starts handling the messages of topic and returns once the
// subscription is live: with a group (transport.WithGroup), once this member
// has joined it and its partitions' offsets are resolved; without one, once
// the newest (or oldest, see transport.WithStart) offset of every partition
// is known. A missing topic is created, unless WithoutCreateTopics says
// otherwise; then it is an ErrNotFound error.
func (s *Subscriber) Subscribe(ctx context.Context, topic string, h transport.Handler,
	opts ...transport.SubscribeOption) (*transport.Subscription, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	return driver.Subscribe(ctx, &s.subs, topic, h, opts, func(ctx context.Context, cfg driver.SubscribeConfig) (driver.Receiver, error) {
		parts, err := s.cluster.partitions(ctx, topic)
		if err != nil {
			return nil, err
		}
		r := newReceiver(s.cluster, topic, cfg)
		if cfg.Group == "" {
			err = r.startEphemeral(ctx, parts)
		} else {
			err = r.startGroup(ctx)
		}
		if err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	})
}

// Close closes every subscription (each drains and commits what finished)
// and releases the connections. It is idempotent.
func (s *Subscriber) Close() error {
	err := s.subs.Close()
	s.cluster.close()
	return err
}

var _ transport.Subscriber = (*Subscriber)(nil)
