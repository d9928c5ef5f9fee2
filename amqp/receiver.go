package amqp

import (
	"context"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/internal/backoff"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// receiver is the driver.Receiver of one subscription: a consumer on its
// own channel. Receive, start and Close run on one goroutine at a time (the
// dispatcher's intake, before and after it); Settle runs on any, and only
// touches the delivery's own channel.
type receiver struct {
	s     *Subscriber
	topic string
	q     queueSpec
	cfg   driver.SubscribeConfig
	tag   string // consumer tag

	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery // nil while there is no consumer
	queue      string               // the declared queue's name

	// failed counts the attempts of messages this subscription nacked, by
	// ID, so that a classic queue's redelivery (which only says "delivered
	// before") gets its real attempt number when it comes back here.
	mu     sync.Mutex
	failed map[string]int
}

// maxTracked bounds the failed map: messages nacked here may be redelivered
// to another member and never come back.
const maxTracked = 10000

func newReceiver(s *Subscriber, topic string, q queueSpec, cfg driver.SubscribeConfig) *receiver {
	return &receiver{s: s, topic: topic, q: q, cfg: cfg, tag: "brokerkit-" + transport.NewID()}
}

// start opens the channel, declares the topology and registers the
// consumer, retrying an unreachable broker until ctx ends.
func (r *receiver) start(ctx context.Context) error {
	return r.reconnect(ctx)
}

// reconnect sets the consumer up again after its channel or connection was
// lost, with backoff. Errors that no retry fixes (a queue that does not
// exist with WithExistingTopology, refused permissions, a queue declared
// with other arguments) end it.
func (r *receiver) reconnect(ctx context.Context) error {
	b := backoff.Backoff{Min: r.s.cfg.reconnectMin, Max: r.s.cfg.reconnectMax}
	for {
		err := r.consume(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return classify.DeadlineError("subscribe", ctx, err)
		}
		if !classify.Retryable(err) {
			return classify.Wrap("subscribe", err)
		}
		r.s.cfg.logger.Warn("amqp: subscribing failed; retrying", "topic", r.topic, "queue", r.q.name, "err", err)
		if !b.Wait(ctx) {
			return classify.DeadlineError("subscribe", ctx, err)
		}
	}
}

// consume opens a channel, declares the exchange and the queue, binds it,
// sets the prefetch and starts consuming; Consume returns after
// basic.consume-ok, so the subscription is live when it returns nil.
func (r *receiver) consume(ctx context.Context) error {
	conn, _, err := r.s.conn.get(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return classify.Wrap("open channel", err)
	}
	fail := func(err error) error {
		_ = ch.Close()
		return err
	}
	if err := ch.Qos(r.cfg.Prefetch, 0, false); err != nil {
		return fail(classify.Wrap("basic.qos", err))
	}
	if err := r.s.cfg.declareExchange(ch, r.topic); err != nil {
		return fail(err)
	}
	queue, err := r.s.cfg.declareQueue(ch, r.topic, r.q)
	if err != nil {
		return fail(err)
	}
	deliveries, err := ch.Consume(queue, r.tag, false, false, false, false, nil)
	if err != nil {
		return fail(classify.Wrap("basic.consume", err))
	}
	r.ch, r.deliveries, r.queue = ch, deliveries, queue
	return nil
}

// Receive returns the next delivery. When the channel or the connection is
// lost it sets the consumer up again, declaring the topology anew, and goes
// on; the deliveries that were not acked come again from the broker.
func (r *receiver) Receive(ctx context.Context) (driver.Delivery, error) {
	for {
		if r.deliveries == nil {
			if err := r.reconnect(ctx); err != nil {
				return driver.Delivery{}, err
			}
			r.s.cfg.logger.Info("amqp: subscription resumed", "topic", r.topic, "queue", r.queue)
		}
		select {
		case d, ok := <-r.deliveries:
			if !ok {
				r.lost()
				continue
			}
			native := new(amqp.Delivery)
			*native = d
			m := decode(r.topic, native)
			if d.Redelivered {
				r.countAttempt(m, native)
			}
			return driver.Delivery{Message: m, Token: native}, nil
		case <-ctx.Done():
			r.cancel()
			return driver.Delivery{}, ctx.Err()
		}
	}
}

// lost drops the consumer whose deliveries channel closed: its channel or
// connection died, or the broker cancelled it (the queue was deleted).
// Closing the channel returns what it had not acked to the queue.
func (r *receiver) lost() {
	r.s.cfg.logger.Warn("amqp: consumer lost; resubscribing", "topic", r.topic, "queue", r.queue)
	if r.ch != nil {
		_ = r.ch.Close()
	}
	r.ch, r.deliveries = nil, nil
}

// cancel stops the broker from sending more while the dispatcher drains. It
// does not wait for cancel-ok: what the broker sent meanwhile stays unacked
// on the channel, and Close returns it to the queue.
func (r *receiver) cancel() {
	if r.ch != nil && r.deliveries != nil {
		_ = r.ch.Cancel(r.tag, true)
		r.deliveries = nil
	}
}

// Settle acks a handled delivery, or nacks it with requeue so that the
// broker delivers it again. A delivery whose channel closed is dropped: its
// delivery tag meant something only on that channel, and the broker
// redelivers it anyway.
func (r *receiver) Settle(dl driver.Delivery, err error) {
	d, m := dl.Token.(*amqp.Delivery), dl.Message
	if err != nil {
		r.remember(m.ID, m.Attempt)
	}
	if ch, ok := d.Acknowledger.(*amqp.Channel); ok && ch.IsClosed() {
		r.s.cfg.logger.Debug("amqp: channel closed; delivery left for redelivery", "topic", r.topic, "id", m.ID)
		return
	}
	var serr error
	if err == nil {
		serr = d.Ack(false)
		if d.Redelivered {
			r.forget(m.ID)
		}
	} else {
		serr = d.Nack(false, true)
	}
	if serr != nil {
		r.s.cfg.logger.Debug("amqp: settling failed; delivery left for redelivery", "topic", r.topic, "id", m.ID, "err", serr)
	}
}

// Close closes the channel, which returns every delivery not acked
// (including those prefetched and never handed out) to the queue, and
// deletes an exclusive queue. Serve calls it once every received message
// was settled.
func (r *receiver) Close() error {
	if r.ch != nil {
		_ = r.ch.Close()
		r.ch, r.deliveries = nil, nil
	}
	return nil
}

// countAttempt raises the attempt of a redelivery from a classic queue to
// one more than this subscription saw fail.
func (r *receiver) countAttempt(m *transport.Message, d *amqp.Delivery) {
	if _, exact := d.Headers[headerDeliveryCount]; exact {
		return
	}
	r.mu.Lock()
	n := r.failed[m.ID]
	r.mu.Unlock()
	m.Attempt = max(m.Attempt, n+1)
}

func (r *receiver) remember(id string, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = map[string]int{}
	}
	if _, ok := r.failed[id]; !ok && len(r.failed) >= maxTracked {
		for k := range r.failed { // drop one at random
			delete(r.failed, k)
			break
		}
	}
	r.failed[id] = attempt
}

func (r *receiver) forget(id string) {
	r.mu.Lock()
	delete(r.failed, id)
	r.mu.Unlock()
}

var _ driver.Receiver = (*receiver)(nil)
