package memory

import (
	"context"
	"net/url"
	"strings"
	"sync"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

func init() { transport.Register("mem", opener{}) }

// named holds the process-wide brokers reached by "mem://NAME". They live
// as long as the process: they run no goroutine, and what a URL opened
// closes its own subscriptions.
var (
	namedMu sync.Mutex
	named   = map[string]*Broker{}
)

type opener struct{}

// The memory broker logs nothing, so the OpenConfig has nothing for it.
func (opener) OpenPublisher(_ context.Context, u *url.URL, _ transport.OpenConfig) (transport.Publisher, error) {
	b, err := brokerFor(u)
	if err != nil {
		return nil, err
	}
	return &client{b: b}, nil
}

func (opener) OpenSubscriber(_ context.Context, u *url.URL, _ transport.OpenConfig) (transport.Subscriber, error) {
	b, err := brokerFor(u)
	if err != nil {
		return nil, err
	}
	return &client{b: b}, nil
}

// brokerFor returns the named broker of u, creating it on first use.
func brokerFor(u *url.URL) (*Broker, error) {
	name := u.Host + strings.TrimSuffix(u.Path, "/")
	q := driver.NewQuery(u)
	capacity := q.Int("capacity", DefaultCapacity)
	maxPayload := q.Int("max_payload", 0)
	if err := q.Err(); err != nil {
		return nil, err
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	if b := named[name]; b != nil {
		if q.Has("capacity") && b.capacity != capacity || q.Has("max_payload") && b.maxPayload != maxPayload {
			return nil, transport.Invalidf("memory: broker %q is already open with capacity=%d max_payload=%d",
				name, b.capacity, b.maxPayload)
		}
		return b, nil
	}
	b, err := New(WithCapacity(capacity), WithMaxPayload(maxPayload))
	if err != nil {
		return nil, err
	}
	named[name] = b
	return b, nil
}

// client is what a URL opens: a handle on a shared named broker whose Close
// ends only what it started.
type client struct {
	b    *Broker
	mu   sync.Mutex
	done bool
	subs driver.Subscriptions
}

func (c *client) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done {
		return transport.ErrClosed
	}
	return c.b.Publish(ctx, topic, msgs...)
}

func (c *client) Subscribe(ctx context.Context, topic string, h transport.Handler,
	opts ...transport.SubscribeOption) (*transport.Subscription, error) {
	if c.subs.Closed() {
		return nil, transport.ErrClosed
	}
	s, err := c.b.Subscribe(ctx, topic, h, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.subs.Add(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (c *client) Close() error {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	return c.subs.Close()
}
