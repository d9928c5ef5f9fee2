package amqp

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
)

// admin runs the inspection and administration calls of a Publisher or a
// Subscriber, each on a channel of its own: a failed passive declare (a
// missing queue) closes its channel, and must not close one that carries
// deliveries or confirms.
type admin struct {
	cfg  *config
	conn *connector
}

// do runs fn on a fresh channel of the connection, dialing when there is
// none (until ctx ends), and closes the channel after.
func (a admin) do(ctx context.Context, op string, fn func(ch *amqp.Channel) error) error {
	conn, _, err := a.conn.get(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return classify.Wrap(op, err)
	}
	defer ch.Close()
	// amqp091-go's synchronous calls take no context; a broker that stops
	// answering is noticed by the connection's heartbeat, which closes the
	// channel and ends the call.
	done := make(chan error, 1)
	go func() { done <- fn(ch) }()
	select {
	case err := <-done:
		return classify.Wrap(op, err)
	case <-ctx.Done():
		_ = ch.Close() // ends fn's call
		<-done
		return ctx.Err()
	}
}

func (a admin) groupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	q, err := a.groupQueue(topic, group)
	if err != nil {
		return transport.GroupStats{}, err
	}
	st := transport.GroupStats{Topic: topic, Group: group, Unacked: -1}
	err = a.do(ctx, "inspect queue", func(ch *amqp.Channel) error {
		d, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			return fmt.Errorf("queue %q of group %q: %w", q, group, err)
		}
		st.Ready, st.Backlog, st.Consumers = int64(d.Messages), int64(d.Messages), d.Consumers
		return nil
	})
	return st, err
}

func (a admin) purge(ctx context.Context, topic, group string) (int64, error) {
	q, err := a.groupQueue(topic, group)
	if err != nil {
		return 0, err
	}
	var n int
	err = a.do(ctx, "purge queue", func(ch *amqp.Channel) error {
		// A passive declare first, so that a missing queue is ErrNotFound
		// (queue.purge of a missing queue says so too, but less clearly).
		if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
			return fmt.Errorf("queue %q of group %q: %w", q, group, err)
		}
		var err error
		n, err = ch.QueuePurge(q, false)
		return err
	})
	return int64(n), err
}

func (a admin) createTopic(ctx context.Context, topic string, spec transport.TopicSpec) error {
	if err := checkName(topic); err != nil {
		return err
	}
	kind := spec.Kind
	if kind == "" {
		kind = a.cfg.exchangeType
	}
	switch kind {
	case amqp.ExchangeDirect, amqp.ExchangeFanout, amqp.ExchangeTopic, amqp.ExchangeHeaders:
	default:
		return transport.Invalidf("amqp: exchange type %q (want direct, fanout, topic or headers)", kind)
	}
	return a.do(ctx, "declare exchange", func(ch *amqp.Channel) error {
		if err := ch.ExchangeDeclare(topic, kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("exchange %q of type %q: %w", topic, kind, err)
		}
		return nil
	})
}

func (a admin) deleteTopic(ctx context.Context, topic string) error {
	if err := checkName(topic); err != nil {
		return err
	}
	return a.do(ctx, "delete exchange", func(ch *amqp.Channel) error {
		if err := ch.ExchangeDelete(topic, false, false); err != nil {
			return fmt.Errorf("exchange %q: %w", topic, err)
		}
		return nil
	})
}

func (a admin) groupQueue(topic, group string) (string, error) {
	if err := checkName(topic); err != nil {
		return "", err
	}
	spec, err := a.cfg.queueFor(topic, group)
	if err != nil {
		return "", err
	}
	if spec.name == "" {
		return "", transport.Invalidf("amqp: group %q of topic %q has no queue name", group, topic)
	}
	return spec.name, nil
}

// GroupStats reports the depth of group's queue: the messages ready in it
// (Ready, and Backlog) and its consumers, read with a passive queue.declare.
// AMQP 0.9.1 does not tell how many messages are delivered and not yet
// acked, so Unacked is -1 (unknown); the management plugin's
// messages_unacknowledged has it. A missing queue is an ErrNotFound error.
func (s *Subscriber) GroupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	return admin{s.cfg, s.conn}.groupStats(ctx, topic, group)
}

// Purge drops the ready messages of group's queue (queue.purge) and
// returns how many it dropped. Messages delivered and not yet acked stay.
func (s *Subscriber) Purge(ctx context.Context, topic, group string) (int64, error) {
	return admin{s.cfg, s.conn}.purge(ctx, topic, group)
}

// CreateTopic declares topic's exchange, durable, of type spec.Kind
// (default: the configured exchange type, WithExchangeType). An existing
// exchange of another type is an ErrInvalid error (PRECONDITION_FAILED).
func (s *Subscriber) CreateTopic(ctx context.Context, topic string, spec transport.TopicSpec) error {
	return admin{s.cfg, s.conn}.createTopic(ctx, topic, spec)
}

// DeleteTopic deletes topic's exchange. The queues bound to it stay, with
// their messages, and receive nothing more until it is declared again.
func (s *Subscriber) DeleteTopic(ctx context.Context, topic string) error {
	return admin{s.cfg, s.conn}.deleteTopic(ctx, topic)
}

// GroupStats: as Subscriber.GroupStats.
func (p *Publisher) GroupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	return admin{p.cfg, p.conn}.groupStats(ctx, topic, group)
}

// Purge: as Subscriber.Purge.
func (p *Publisher) Purge(ctx context.Context, topic, group string) (int64, error) {
	return admin{p.cfg, p.conn}.purge(ctx, topic, group)
}

// CreateTopic: as Subscriber.CreateTopic.
func (p *Publisher) CreateTopic(ctx context.Context, topic string, spec transport.TopicSpec) error {
	return admin{p.cfg, p.conn}.createTopic(ctx, topic, spec)
}

// DeleteTopic: as Subscriber.DeleteTopic; the publisher then declares the
// exchange again on its next Publish to topic.
func (p *Publisher) DeleteTopic(ctx context.Context, topic string) error {
	err := admin{p.cfg, p.conn}.deleteTopic(ctx, topic)
	p.mu.Lock()
	delete(p.declared, topic)
	p.mu.Unlock()
	return err
}

var (
	_ transport.Inspector  = (*Subscriber)(nil)
	_ transport.Purger     = (*Subscriber)(nil)
	_ transport.TopicAdmin = (*Subscriber)(nil)
	_ transport.Inspector  = (*Publisher)(nil)
	_ transport.Purger     = (*Publisher)(nil)
	_ transport.TopicAdmin = (*Publisher)(nil)
)
