package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// DefaultCapacity is how many messages a queue holds unless WithCapacity
// says otherwise.
const DefaultCapacity = 10000

// Option configures a Broker.
type Option func(*Broker) error

// WithCapacity bounds every queue (each group's, each ephemeral
// subscription's) to n messages, counting those handed out and not yet
// settled. Default DefaultCapacity.
func WithCapacity(n int) Option {
	return func(b *Broker) error {
		if n < 1 {
			return transport.Invalidf("memory.WithCapacity: %d is less than 1", n)
		}
		b.capacity = n
		return nil
	}
}

// WithMaxPayload makes Publish reject payloads larger than n bytes with
// transport.ErrTooLarge, as a real broker would. Default 0: no limit.
func WithMaxPayload(n int) Option {
	return func(b *Broker) error {
		if n < 0 {
			return transport.Invalidf("memory.WithMaxPayload: %d is negative", n)
		}
		b.maxPayload = n
		return nil
	}
}

// Broker is an in-process broker. It is a transport.Publisher and a
// transport.Subscriber, safe for concurrent use, and starts no goroutine of
// its own: only its subscriptions run goroutines, and Close ends them.
type Broker struct {
	capacity   int
	maxPayload int

	mu     sync.Mutex // guards topics and the queue sets in them; Publish never takes it
	topics map[string]*topic
	subs   driver.Subscriptions

	// routes maps each topic that has queues to its queues. It is rebuilt
	// under mu whenever a queue set changes (subscribe, unsubscribe, delete,
	// close) and never modified once stored, so Publish reads it with one
	// atomic load instead of the broker-wide lock: subscriptions change
	// rarely, publishes all the time.
	routes atomic.Pointer[map[string][]*queue]
	// closed is set under mu, and read without it by Publish.
	closed atomic.Bool
}

// topic is where a published message goes: every group's queue and every
// ephemeral subscription's queue.
type topic struct {
	groups    map[string]*queue
	ephemeral map[*queue]struct{}
	all       []*queue // both, rebuilt on every change and never modified, so Publish can use it unlocked
}

func (t *topic) rebuild() {
	all := make([]*queue, 0, len(t.groups)+len(t.ephemeral))
	for _, q := range t.groups {
		all = append(all, q)
	}
	for q := range t.ephemeral {
		all = append(all, q)
	}
	t.all = all
}

// New returns an empty broker. It fails only for an invalid option.
func New(opts ...Option) (*Broker, error) {
	b := &Broker{capacity: DefaultCapacity, topics: map[string]*topic{}}
	b.routes.Store(&map[string][]*queue{})
	for _, o := range opts {
		if o == nil {
			return nil, transport.Invalidf("memory: nil Option")
		}
		if err := o(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Publish stores a copy of every message in each queue of topic and
// returns once all of them hold it, waiting for room in full queues until
// ctx ends. Messages without an ID get one.
func (b *Broker) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if err := driver.Prepare(ctx, topic, msgs, b.maxPayload); err != nil {
		return err
	}
	if b.closed.Load() {
		return transport.ErrClosed
	}
	queues := (*b.routes.Load())[topic]
	if len(queues) == 0 {
		// Nobody subscribed: the broker takes the messages and drops them,
		// as a broker with no queue bound does; no copy is needed.
		return nil
	}
	now := time.Now()
	var one [1]*transport.Message
	copies := one[:]
	if len(msgs) > 1 {
		copies = make([]*transport.Message, len(msgs))
	}
	for i, m := range msgs {
		c := m.Copy()
		c.Topic, c.PublishedAt, c.Attempt = topic, now, 0
		copies[i] = c
	}
	for _, q := range queues {
		if n, err := q.push(ctx, copies); err != nil {
			return driver.FailFrom(msgs, n, err)
		}
	}
	if b.closed.Load() {
		// Closed while we pushed: Close sets closed before it drops the
		// queues, so a push that a dropped queue swallowed is seen here.
		return driver.FailFrom(msgs, 0, transport.ErrClosed)
	}
	return nil
}

// publishRoutes stores a new routes snapshot from b.topics. b.mu must be held.
func (b *Broker) publishRoutes() {
	routes := make(map[string][]*queue, len(b.topics))
	for name, t := range b.topics {
		if len(t.all) > 0 {
			routes[name] = t.all
		}
	}
	b.routes.Store(&routes)
}

// Subscribe starts handling the messages of topic. It returns once the
// subscription's queue is attached to the topic, so a message published
// after it returned is delivered. With transport.WithGroup the
// subscription shares the group's queue with the group's other members.
func (b *Broker) Subscribe(ctx context.Context, topic string, h transport.Handler,
	opts ...transport.SubscribeOption) (*transport.Subscription, error) {
	return driver.Subscribe(ctx, &b.subs, topic, h, opts, func(_ context.Context, cfg driver.SubscribeConfig) (driver.Receiver, error) {
		if cfg.StartOldest {
			return nil, driver.ErrNoLog("memory")
		}
		return b.attach(topic, cfg.Group, cfg.Prefetch)
	})
}

// attach returns a receiver on the group's queue, creating the queue on the
// group's first subscription, or on a new ephemeral queue.
func (b *Broker) attach(name, group string, prefetch int) (*receiver, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, transport.ErrClosed
	}
	t := b.topics[name]
	if t == nil {
		t = newTopic()
		b.topics[name] = t
	}
	r := &receiver{prefetch: prefetch}
	if group == "" {
		q := newQueue(b.capacity)
		t.ephemeral[q] = struct{}{}
		t.rebuild()
		b.publishRoutes()
		r.q = q
		r.detach = func() {
			b.mu.Lock()
			delete(t.ephemeral, q)
			t.rebuild()
			if b.topics[name] == t {
				b.publishRoutes() // not after Close or DeleteTopic dropped t
			}
			b.mu.Unlock()
			q.close()
		}
		return r, nil
	}
	q := t.groups[group]
	if q == nil {
		q = newQueue(b.capacity)
		t.groups[group] = q
		t.rebuild()
		b.publishRoutes()
	}
	r.q = q
	q.addConsumer(1)
	r.detach = func() { q.addConsumer(-1) }
	return r, nil
}

// Close closes every subscription (each drains its in-flight work), drops
// every queue and makes later calls fail with transport.ErrClosed. Publish
// calls waiting for room return. It is idempotent.
func (b *Broker) Close() error {
	err := b.subs.Close()
	b.mu.Lock()
	b.closed.Store(true)
	topics := b.topics
	b.topics = map[string]*topic{}
	b.publishRoutes()
	b.mu.Unlock()
	for _, t := range topics {
		for _, q := range t.groups {
			q.close()
		}
		for q := range t.ephemeral {
			q.close()
		}
	}
	return err
}

// String describes the broker for logs.
func (b *Broker) String() string {
	return fmt.Sprintf("memory.Broker(capacity=%d)", b.capacity)
}

var (
	_ transport.Publisher  = (*Broker)(nil)
	_ transport.Subscriber = (*Broker)(nil)
)
