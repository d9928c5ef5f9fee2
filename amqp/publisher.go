package amqp

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Publisher publishes to RabbitMQ exchanges, one per topic. It is safe for
// concurrent use.
//
// A Publish call takes one of a pool of channels (WithChannels), writes all
// its messages without waiting, gives the channel back and then waits for
// the broker's confirms (amqp091-go deferred confirmations, which the call
// awaits itself): many messages are in flight at once, up to
// WithConfirmWindow per channel, and concurrent calls write on different
// channels and share their confirm windows.
type Publisher struct {
	cfg   *config
	conn  *connector
	slots chan *slot

	gate driver.Gate // Publish calls in progress, and Close

	mu       sync.Mutex
	declared map[string]uint64 // topic → connection generation its exchange was declared on

	listeners sync.WaitGroup // confirm listeners (WithMandatory) and the waits of abandoned calls
}

// NewPublisher returns a publisher for an amqp:// or amqps:// URL (see
// Scheme for the query options; opts given here override the URL's). It
// connects lazily: the first Publish reaches the broker.
func NewPublisher(rawURL string, opts ...PublisherOption) (*Publisher, error) {
	u, err := parseRaw(rawURL)
	if err != nil {
		return nil, err
	}
	dial, urlOpts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return newPublisher(dial, append(roleOptions[PublisherOption](urlOpts), opts...))
}

// NewPublisherFromConnection returns a publisher on a connection the caller
// owns, such as one a service already has. Publisher.Close closes the
// channels it opened, never the connection; when the connection closes,
// Publish fails until it is open again (amqp091-go's own Recovery, or
// nothing): reconnecting is the owner's business.
func NewPublisherFromConnection(conn *amqp.Connection, opts ...PublisherOption) (*Publisher, error) {
	if conn == nil {
		return nil, transport.Invalidf("amqp: nil *amqp091.Connection")
	}
	cfg, err := newConfig(publisherRole, append(opts, adopt(conn)))
	if err != nil {
		return nil, err
	}
	return newPublisherConfig(cfg), nil
}

func adopt(conn *amqp.Connection) Option {
	return option(func(c *config) error {
		c.adopted = conn
		c.redacted = "adopted connection"
		return nil
	})
}

func newPublisher(dial *url.URL, opts []PublisherOption) (*Publisher, error) {
	cfg, err := newURLConfig(publisherRole, dial, opts)
	if err != nil {
		return nil, err
	}
	return newPublisherConfig(cfg), nil
}

func newPublisherConfig(cfg *config) *Publisher {
	p := &Publisher{
		cfg:      cfg,
		conn:     newConnector(cfg, "publisher"),
		slots:    make(chan *slot, cfg.channels),
		declared: map[string]uint64{},
	}
	for range cfg.channels {
		p.slots <- &slot{p: p, window: make(chan struct{}, cfg.window)}
	}
	return p
}

// Publish sends msgs to topic's exchange, with each message's Key as routing
// key, and returns nil once the broker confirmed every one of them.
// Otherwise it returns a context error, an ErrInvalid or ErrTooLarge error
// (nothing was sent), or a *transport.PublishError naming the messages that
// were not confirmed: nacked, returned as unroutable (WithMandatory), or
// written to a channel that closed before their confirm came (they may or
// may not be stored). While the broker blocks publishers (a resource alarm)
// Publish waits, until ctx ends.
func (p *Publisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if err := checkName(topic); err != nil {
		return err
	}
	if err := p.cfg.checkMessages(topic, msgs); err != nil {
		return err
	}
	if err := driver.Prepare(ctx, topic, msgs, p.cfg.maxPayload); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := p.gate.Enter(); err != nil {
		return err
	}
	defer p.gate.Leave()

	// A call holds a confirm-window token per message until its confirm
	// comes, and awaits its confirms only after writing: a call larger
	// than the window would wait for tokens it holds itself. So it goes in
	// rounds of at most a window each.
	if len(msgs) <= p.cfg.window {
		return p.publishRound(ctx, topic, msgs)
	}
	var failed []transport.FailedMessage
	for from := 0; from < len(msgs); from += p.cfg.window {
		err := p.publishRound(ctx, topic, msgs[from:min(from+p.cfg.window, len(msgs))])
		var pe *transport.PublishError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			for _, f := range pe.Failed {
				f.Index += from
				failed = append(failed, f)
			}
		default: // the context ended: nothing more is sent
			return err
		}
	}
	if len(failed) > 0 {
		return &transport.PublishError{Failed: failed}
	}
	return nil
}

// publishRound publishes at most a confirm window of messages.
func (p *Publisher) publishRound(ctx context.Context, topic string, msgs []*transport.Message) error {
	if err := p.conn.waitUnblocked(ctx); err != nil {
		return err
	}
	var s *slot
	select {
	case s = <-p.slots:
	case <-ctx.Done():
		return ctx.Err()
	}
	c, outs, err := p.write(ctx, s, topic, msgs)
	window, ch := s.window, s.ch
	p.slots <- s
	if err != nil {
		return err
	}
	if p.cfg.confirms && !p.cfg.mandatory {
		return p.await(ctx, c, outs, window, ch)
	}
	select {
	case <-c.done:
		if err := c.err(); err != nil && ctx.Err() != nil {
			return ctx.Err() // the rest failed for it: say so plainly
		}
		return c.err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write publishes msgs on s's channel and returns the call that collects
// their outcome: its done closes once each of them is settled, except
// without WithMandatory, where those written wait in outs for await.
func (p *Publisher) write(ctx context.Context, s *slot, topic string, msgs []*transport.Message) (*call, []outMsg, error) {
	if err := s.ready(ctx); err != nil {
		return nil, nil, driver.FailFrom(msgs, 0, err)
	}
	if err := p.declare(s, topic); err != nil {
		return nil, nil, driver.FailFrom(msgs, 0, err)
	}
	c := newCall(len(msgs))
	outs := make([]outMsg, len(msgs))
	now := time.Now()
	for i, m := range msgs {
		settled, err := p.writeOne(ctx, s, topic, m, &outs[i], c, i, now)
		if err == nil {
			continue
		}
		// The channel or ctx failed: the rest is not sent.
		if settled {
			i++
		}
		for ; i < len(msgs); i++ {
			c.settle(i, msgs[i].ID, err)
		}
		break
	}
	return c, outs, nil
}

// writeOne writes one message, taking a confirm window token for it. On
// failure it returns the error to fail the rest of the call with, and
// whether the message itself was failed already.
func (p *Publisher) writeOne(ctx context.Context, s *slot, topic string, m *transport.Message, out *outMsg,
	c *call, i int, now time.Time) (settled bool, err error) {
	if err = p.conn.waitUnblocked(ctx); err != nil {
		return false, err
	}
	pub := p.cfg.encode(m, now)
	key := p.cfg.routingKeyOf(topic, m)
	if !p.cfg.confirms {
		if err := s.ch.Publish(topic, key, p.cfg.mandatory, false, pub); err != nil {
			return false, classify.Wrap("publish", err)
		}
		c.settle(i, m.ID, nil)
		return false, nil
	}
	select {
	case s.window <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if !p.cfg.mandatory {
		dc, err := s.ch.PublishWithDeferredConfirm(topic, key, false, false, pub)
		if err != nil {
			<-s.window
			return false, classify.Wrap("publish", err)
		}
		*out = outMsg{call: c, index: i, id: m.ID, dc: dc}
		return false, nil
	}
	// The slot's owner is the only one publishing on the channel, so the
	// sequence number is the one this message gets.
	*out = outMsg{call: c, index: i, id: m.ID, seq: s.ch.GetNextPublishSeqNo()}
	st := s.state
	if !st.add(out) {
		<-s.window
		return false, errNotSent
	}
	if err := s.ch.Publish(topic, key, p.cfg.mandatory, false, pub); err != nil {
		err = classify.Wrap("publish", err)
		if st.unadd(out) {
			<-s.window
			return false, err
		}
		return true, err // the channel closed meanwhile, and the listener failed it
	}
	return false, nil
}

// await waits for the confirms of the messages written, in order, settling
// each and giving its window token back. A confirm that is a nack, or that
// the channel's closing resolved, fails its message. When ctx ends first,
// the tokens of the rest are given back as their confirms come, by a
// goroutine that ends when the last does (confirm or channel closed).
func (p *Publisher) await(ctx context.Context, c *call, outs []outMsg, window chan struct{}, ch *amqp.Channel) error {
	nacked := false
	for i := range outs {
		o := &outs[i]
		if o.dc == nil {
			continue // not written: settled already
		}
		select {
		case <-o.dc.Done():
		case <-ctx.Done():
			rest := outs[i:]
			p.listeners.Add(1)
			go func() {
				defer p.listeners.Done()
				for _, o := range rest {
					if o.dc != nil {
						<-o.dc.Done()
						<-window
					}
				}
			}()
			return ctx.Err()
		}
		<-window
		var err error
		if !o.dc.Acked() {
			err = errNacked
			if ch.IsClosed() {
				err = errConfirmLost // amqp091-go resolves pending confirms as nacks on close
			} else {
				nacked = true
			}
		}
		c.settle(o.index, o.id, err)
	}
	if nacked {
		// A nack retires the channel: the next Publish opens a new one.
		// RabbitMQ 3.10 nacks every later publish on a channel whose
		// quorum queue lost its leader in the moment the channel first
		// routed to it, while a new channel is accepted at once (seen with
		// a cluster node killed: docs/clusters.md). Confirms still pending
		// on it fail as not confirmed, as on any lost channel.
		_ = ch.Close()
	}
	err := c.err()
	if err != nil && ctx.Err() != nil {
		return ctx.Err() // the rest failed for it: say so plainly
	}
	return err
}

// declare declares topic's exchange once per connection.
func (p *Publisher) declare(s *slot, topic string) error {
	p.mu.Lock()
	done := p.declared[topic] == s.gen
	p.mu.Unlock()
	if done {
		return nil
	}
	if err := p.cfg.declareExchange(s.ch, topic); err != nil {
		return err
	}
	p.mu.Lock()
	p.declared[topic] = s.gen
	p.mu.Unlock()
	return nil
}

// forgetExchanges has every exchange declared again, after the broker said
// one does not exist.
func (p *Publisher) forgetExchanges() {
	p.mu.Lock()
	clear(p.declared)
	p.mu.Unlock()
}

// Close waits for the Publish calls in progress to end (each returns once
// its messages are confirmed, failed, or its context ends), then closes the
// channels and the connection (not an adopted one). It is idempotent;
// Publish after Close returns ErrClosed.
func (p *Publisher) Close() error {
	if !p.gate.Close() {
		p.listeners.Wait()
		return nil
	}
	for range cap(p.slots) {
		s := <-p.slots
		if s.ch != nil {
			_ = s.ch.Close()
		}
	}
	p.conn.close()
	p.listeners.Wait()
	return nil
}

var _ transport.Publisher = (*Publisher)(nil)
