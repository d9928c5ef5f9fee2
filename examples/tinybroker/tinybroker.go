// Package tinybroker is a complete brokerkit backend in one file: an
// in-process broker written against package transport/driver, as
// docs/backends/writing.md explains step by step. It passes the conformance
// suite (tinybroker_test.go). brokerkit's real in-process backend is package
// memory; this one is kept small to be read.
package tinybroker

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Scheme is the URL scheme the backend registers: "tiny://".
const Scheme = "tiny"

// The registered opener gives every URL a client of the same broker, so
// that a publisher and a subscriber opened by URL meet.
var shared = New()

func init() { transport.Register(Scheme, opener{}) }

type opener struct{}

func (opener) OpenPublisher(_ context.Context, u *url.URL, _ transport.OpenConfig) (transport.Publisher, error) {
	return shared.Client(), driver.NewQuery(u).Err() // no options: any is unknown
}

func (opener) OpenSubscriber(_ context.Context, u *url.URL, _ transport.OpenConfig) (transport.Subscriber, error) {
	return shared.Client(), driver.NewQuery(u).Err()
}

// Broker holds the topics and their queues; its Clients publish and
// subscribe, as clients of a real broker do.
type Broker struct {
	mu     sync.Mutex
	groups map[string]map[string]*queue // topic → group → its durable queue
	solo   map[string]map[*queue]bool   // topic → the queues of subscriptions without a group
}

// New returns an empty broker.
func New() *Broker {
	return &Broker{groups: map[string]map[string]*queue{}, solo: map[string]map[*queue]bool{}}
}

// Client returns a new client of the broker: a transport.Publisher and a
// transport.Subscriber whose Close ends only what it opened.
func (b *Broker) Client() *Client { return &Client{b: b} }

// Client is a transport.Publisher and a transport.Subscriber.
type Client struct {
	b    *Broker
	gate driver.Gate          // Publish calls, and Close's wait for them
	subs driver.Subscriptions // closed with the client
}

// Publish stores a copy of each message in every queue of topic.
func (c *Client) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if err := driver.Prepare(ctx, topic, msgs, 0); err != nil {
		return err
	}
	if err := c.gate.Enter(); err != nil {
		return err
	}
	defer c.gate.Leave()
	b := c.b
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range b.queuesOf(topic) {
		for _, m := range msgs {
			stored := m.Copy()
			stored.Topic, stored.PublishedAt, stored.Attempt = topic, now, 1
			q.push(stored, false)
		}
	}
	return nil
}

func (b *Broker) queuesOf(topic string) []*queue {
	var qs []*queue
	for _, q := range b.groups[topic] {
		qs = append(qs, q)
	}
	for q := range b.solo[topic] {
		qs = append(qs, q)
	}
	return qs
}

// Subscribe attaches a receiver to the group's queue (created on the
// group's first subscription, so a group keeps what is published while none
// of its members runs), or to a queue of its own without a group.
func (c *Client) Subscribe(ctx context.Context, topic string, h transport.Handler,
	opts ...transport.SubscribeOption) (*transport.Subscription, error) {
	b := c.b
	return driver.Subscribe(ctx, &c.subs, topic, h, opts, func(_ context.Context, cfg driver.SubscribeConfig) (driver.Receiver, error) {
		if cfg.StartOldest {
			return nil, driver.ErrNoLog("tiny")
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if cfg.Group == "" {
			q := newQueue()
			if b.solo[topic] == nil {
				b.solo[topic] = map[*queue]bool{}
			}
			b.solo[topic][q] = true
			return &receiver{q: q, detach: func() {
				b.mu.Lock()
				delete(b.solo[topic], q)
				b.mu.Unlock()
			}}, nil
		}
		if b.groups[topic] == nil {
			b.groups[topic] = map[string]*queue{}
		}
		q := b.groups[topic][cfg.Group]
		if q == nil {
			q = newQueue()
			b.groups[topic][cfg.Group] = q
		}
		return &receiver{q: q}, nil
	})
}

// Close closes the client's subscriptions, waits for its Publish calls,
// and refuses further calls. It is idempotent.
func (c *Client) Close() error {
	err := c.subs.Close()
	c.gate.Close()
	return err
}

// queue is a FIFO of messages, safe for concurrent use.
type queue struct {
	mu    sync.Mutex
	msgs  []*transport.Message
	ready chan struct{} // signalled when a message is pushed
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(m *transport.Message, front bool) {
	q.mu.Lock()
	if front {
		q.msgs = append([]*transport.Message{m}, q.msgs...)
	} else {
		q.msgs = append(q.msgs, m)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) pop() *transport.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return nil
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	if len(q.msgs) > 0 { // wake the group's other members
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return m
}

// receiver is one subscription's side: driver.Serve runs it.
type receiver struct {
	q      *queue
	detach func() // without a group: forget the queue
}

// Receive hands out the next message. The queue's message becomes the
// handler's; the token is the message itself, as stored.
func (r *receiver) Receive(ctx context.Context) (driver.Delivery, error) {
	for {
		if m := r.q.pop(); m != nil {
			return driver.Delivery{Message: m.Copy(), Token: m}, nil
		}
		select {
		case <-r.q.ready:
		case <-ctx.Done():
			return driver.Delivery{}, ctx.Err()
		}
	}
}

// Settle drops a handled message, or puts a new copy of a failed one back
// at the front of its queue, with Attempt raised.
func (r *receiver) Settle(d driver.Delivery, err error) {
	if err == nil {
		return
	}
	again := d.Token.(*transport.Message).Copy()
	again.Attempt++
	r.q.push(again, true)
}

// Close forgets a queue without a group; a group's queue keeps its
// messages for the group's next member.
func (r *receiver) Close() error {
	if r.detach != nil {
		r.detach()
	}
	return nil
}

var (
	_ transport.Publisher  = (*Client)(nil)
	_ transport.Subscriber = (*Client)(nil)
	_ driver.Receiver      = (*receiver)(nil)
)
