package reply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Metadata keys of requests and replies. MetaReplyTo and MetaCorrelationID
// are the well-known names every backend maps onto its native properties.
const (
	// MetaReplyTo names the topic the reply goes to.
	MetaReplyTo = "reply-to"
	// MetaCorrelationID ties a reply to its request.
	MetaCorrelationID = "correlation-id"
	// MetaDeadline is when the caller stops waiting (RFC 3339, nanoseconds,
	// UTC), so that a server skips requests nobody waits for.
	MetaDeadline = "reply-deadline"
	// MetaError marks an error reply and carries the error's text.
	MetaError = "reply-error"
)

// DefaultTimeout bounds a request whose context has no earlier deadline,
// unless WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// ReplyTopicPrefix starts the name of every Client's reply topic.
const ReplyTopicPrefix = "brokerkit.reply."

// RemoteError is the reply to a request whose server function returned an
// error. Reply is the error reply as received, with its metadata.
type RemoteError struct {
	Message string
	Reply   *transport.Message
}

func (e *RemoteError) Error() string { return "reply: the server failed: " + e.Message }

// Stats describes a Client at one moment.
type Stats struct {
	// Pending counts requests waiting for their reply.
	Pending int
	// Dropped counts replies that matched no waiting request: late (the
	// request had ended) or duplicate ones.
	Dropped uint64
}

// Option configures a Client.
type Option func(*config) error

type config struct {
	topic   string
	keep    bool
	timeout time.Duration
	spec    transport.TopicSpec
}

// WithReplyTopic names the client's reply topic. Default: ReplyTopicPrefix
// followed by an ID unique to the client. Two clients must never share one:
// each would drop the other's replies.
func WithReplyTopic(name string) Option {
	return func(c *config) error {
		if name == "" {
			return transport.Invalidf("reply: WithReplyTopic: empty topic")
		}
		c.topic = name
		return nil
	}
}

// WithKeepReplyTopic leaves the reply topic in place at Close. Default: Close
// deletes it when the backend offers transport.TopicAdmin.
func WithKeepReplyTopic() Option {
	return func(c *config) error {
		c.keep = true
		return nil
	}
}

// WithTimeout bounds every request of the client, on top of its context's
// deadline. Default DefaultTimeout; 0 leaves requests bounded by their
// context alone.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return transport.Invalidf("reply.WithTimeout: negative duration %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithReplyTopicSpec sets how the reply topic is created (Kafka: partitions
// and replication factor). Default: the backend's defaults, one partition
// and one replica on Kafka.
func WithReplyTopicSpec(spec transport.TopicSpec) Option {
	return func(c *config) error {
		if spec.Partitions < 0 || spec.ReplicationFactor < 0 {
			return transport.Invalidf("reply.WithReplyTopicSpec: negative partitions or replication factor")
		}
		c.spec = spec
		return nil
	}
}

// Client sends requests and matches their replies. It is safe for
// concurrent use. It does not own the publisher and subscriber it was given:
// Close leaves them open.
type Client struct {
	pub    transport.Publisher
	sub    transport.Subscriber
	cfg    config
	topic  string
	s      *transport.Subscription
	cancel context.CancelFunc // ends the subscription's context, at Close

	mu      sync.Mutex
	pending map[string]chan *transport.Message
	closed  bool
	done    chan struct{}

	dropped atomic.Uint64
	calls   sync.WaitGroup // Go callbacks in progress
}

// NewClient creates the client's reply topic (where the backend offers
// transport.TopicAdmin) and subscribes to it without a group, and returns
// once that subscription is live, so that no reply can be missed.
func NewClient(ctx context.Context, pub transport.Publisher, sub transport.Subscriber, opts ...Option) (*Client, error) {
	if pub == nil || sub == nil {
		return nil, transport.Invalidf("reply.NewClient: nil publisher or subscriber")
	}
	cfg := config{timeout: DefaultTimeout}
	for _, o := range opts {
		if o == nil {
			return nil, transport.Invalidf("reply.NewClient: nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Client{pub: pub, sub: sub, cfg: cfg, topic: cfg.topic,
		pending: map[string]chan *transport.Message{}, done: make(chan struct{})}
	if c.topic == "" {
		c.topic = ReplyTopicPrefix + transport.NewID()
	}
	if err := transport.CreateTopic(ctx, c.admin(), c.topic, cfg.spec); err != nil &&
		!errors.Is(err, transport.ErrUnsupported) {
		return nil, err
	}
	// ctx bounds setting the subscription up, not its life, whichever rule
	// the backend follows for Subscribe's context: the subscription gets a
	// context that ends at Close, or when ctx ends before Subscribe returns.
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	s, err := sub.Subscribe(subCtx, c.topic, c.receive)
	if !stop() && err == nil {
		s.Close()
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		c.deleteTopic()
		return nil, err
	}
	c.s, c.cancel = s, cancel
	return c, nil
}

// admin is whichever of the publisher and the subscriber manages topics.
func (c *Client) admin() any {
	if _, ok := c.sub.(transport.TopicAdmin); ok {
		return c.sub
	}
	return c.pub
}

// ReplyTopic is the topic the client's replies come to.
func (c *Client) ReplyTopic() string { return c.topic }

// Request publishes msg to topic as a request and waits for its reply. It
// does not change msg: a copy goes out, with MetaReplyTo and
// MetaCorrelationID (and MetaDeadline) set. See the package doc for what it
// returns.
func (c *Client) Request(ctx context.Context, topic string, msg *transport.Message) (*transport.Message, error) {
	if ctx == nil {
		return nil, transport.Invalidf("reply: nil context")
	}
	if msg == nil {
		return nil, transport.Invalidf("reply: nil message")
	}
	if topic == "" {
		return nil, transport.Invalidf("reply: empty topic")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
		defer cancel()
	}
	id := transport.NewID()
	out := msg.Copy()
	out.SetMetadata(MetaReplyTo, c.topic)
	out.SetMetadata(MetaCorrelationID, id)
	if dl, ok := ctx.Deadline(); ok {
		out.SetMetadata(MetaDeadline, dl.UTC().Format(time.RFC3339Nano))
	}

	ch := make(chan *transport.Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, transport.ErrClosed
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer c.forget(id)

	if err := c.pub.Publish(ctx, topic, out); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if text, failed := m.Metadata[MetaError]; failed {
			return nil, &RemoteError{Message: text, Reply: m}
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, transport.ErrClosed
	case <-c.s.Done():
		// The reply subscription ended on its own (its topic was deleted,
		// say): no reply can come, so do not wait for the deadline.
		return nil, fmt.Errorf("%w: reply: the subscription to the reply topic %s ended: %w",
			transport.ErrClosed, c.topic, c.s.Err())
	}
}

// Go sends a request as Request does and returns at once; fn is called
// exactly once, from another goroutine, with the reply or the error. A nil
// fn is an ErrInvalid error, returned at once.
func (c *Client) Go(ctx context.Context, topic string, msg *transport.Message, fn func(*transport.Message, error)) error {
	if fn == nil {
		return transport.Invalidf("reply: nil callback")
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.calls.Add(1) // under mu, so that it never races Close's Wait
	}
	c.mu.Unlock()
	if closed {
		go fn(nil, transport.ErrClosed)
		return nil
	}
	go func() {
		defer c.calls.Done()
		fn(c.Request(ctx, topic, msg))
	}()
	return nil
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// receive is the reply subscription's handler: it hands a reply to the
// request waiting for its correlation ID, and drops what no request waits
// for. It always acks: a reply nobody can use is not worth redelivering.
func (c *Client) receive(_ context.Context, m *transport.Message) error {
	id := m.Metadata.Get(MetaCorrelationID)
	c.mu.Lock()
	ch, ok := c.pending[id]
	if ok {
		delete(c.pending, id) // a duplicate finds nothing
	}
	c.mu.Unlock()
	if !ok {
		c.dropped.Add(1)
		return nil
	}
	ch <- m // buffered, and only one send per request
	return nil
}

// Stats reports the requests waiting and the replies dropped so far.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	return Stats{Pending: n, Dropped: c.dropped.Load()}
}

// Close ends the requests still waiting with transport.ErrClosed, waits for
// the callbacks of Go to return, closes the reply subscription and deletes
// the reply topic (see WithKeepReplyTopic). It leaves the publisher and the
// subscriber open. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	c.calls.Wait()
	err := c.s.Close()
	c.cancel()
	if derr := c.deleteTopic(); err == nil {
		err = derr
	}
	return err
}

func (c *Client) deleteTopic() error {
	if c.cfg.keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := transport.DeleteTopic(ctx, c.admin(), c.topic)
	if errors.Is(err, transport.ErrUnsupported) || errors.Is(err, transport.ErrNotFound) {
		return nil
	}
	return err
}
