package memory

import (
	"context"
	"fmt"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// GroupStats reports the depth of group's queue on topic: Ready messages
// waiting, Unacked ones handed to a handler and not yet settled, and the
// number of live subscriptions. A group that never subscribed to topic is
// an ErrNotFound error.
func (b *Broker) GroupStats(_ context.Context, topic, group string) (transport.GroupStats, error) {
	q, err := b.groupQueue(topic, group)
	if err != nil {
		return transport.GroupStats{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ready, unacked := int64(q.ready.len()), int64(q.inflight)
	return transport.GroupStats{Topic: topic, Group: group, Backlog: ready + unacked,
		Ready: ready, Unacked: unacked, Consumers: q.consumers}, nil
}

// Purge drops the messages waiting in group's queue on topic and returns how
// many it dropped. Messages being handled are not touched: they are settled
// as usual. Publish calls waiting for room go on.
func (b *Broker) Purge(_ context.Context, topic, group string) (int64, error) {
	q, err := b.groupQueue(topic, group)
	if err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := int64(q.ready.len())
	q.ready = deque{}
	q.wake()
	q.wakeRoom(int(n))
	return n, nil
}

// CreateTopic makes topic known; the memory broker needs no settings, so
// spec is only validated. A topic also comes to exist on its first
// subscription.
func (b *Broker) CreateTopic(_ context.Context, topic string, spec transport.TopicSpec) error {
	if err := driver.CheckTopic(topic); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return transport.ErrClosed
	}
	if b.topics[topic] == nil {
		b.topics[topic] = newTopic()
	}
	return nil
}

// DeleteTopic drops topic with every queue on it, as deleting a Kafka topic
// drops its data: the subscriptions still open on it end with
// transport.ErrClosed. Deleting a topic that does not exist does nothing.
func (b *Broker) DeleteTopic(_ context.Context, topic string) error {
	if err := driver.CheckTopic(topic); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return transport.ErrClosed
	}
	t := b.topics[topic]
	delete(b.topics, topic)
	b.publishRoutes()
	b.mu.Unlock()
	if t != nil {
		for _, q := range t.all {
			q.close()
		}
	}
	return nil
}

func (b *Broker) groupQueue(topic, group string) (*queue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, transport.ErrClosed
	}
	if t := b.topics[topic]; t != nil {
		if q := t.groups[group]; q != nil {
			return q, nil
		}
	}
	return nil, fmt.Errorf("%w: memory: group %q has no queue on topic %q (it never subscribed)",
		transport.ErrNotFound, group, topic)
}

// The handle a mem:// URL opens offers the same capabilities as its broker.

func (c *client) GroupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	return c.b.GroupStats(ctx, topic, group)
}

func (c *client) Purge(ctx context.Context, topic, group string) (int64, error) {
	return c.b.Purge(ctx, topic, group)
}

func (c *client) CreateTopic(ctx context.Context, topic string, spec transport.TopicSpec) error {
	return c.b.CreateTopic(ctx, topic, spec)
}

func (c *client) DeleteTopic(ctx context.Context, topic string) error {
	return c.b.DeleteTopic(ctx, topic)
}

func (q *queue) addConsumer(n int) {
	q.mu.Lock()
	q.consumers += n
	q.mu.Unlock()
}

var (
	_ transport.Inspector  = (*Broker)(nil)
	_ transport.Purger     = (*Broker)(nil)
	_ transport.TopicAdmin = (*Broker)(nil)
	_ transport.Inspector  = (*client)(nil)
	_ transport.Purger     = (*client)(nil)
	_ transport.TopicAdmin = (*client)(nil)
)

func newTopic() *topic {
	return &topic{groups: map[string]*queue{}, ephemeral: map[*queue]struct{}{}}
}
