package amqp_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// TestQueueArguments: the queue options reach the group's queue: declaring
// it again with the same arguments succeeds, with others it fails.
func TestQueueArguments(t *testing.T) {
	e := newEnv(t)
	topic, group := e.names.topic(), e.names.group()
	dlx := e.names.topic()
	sub := e.subscriber(t,
		amqp.WithQuorumQueues(),
		amqp.WithDeadLetterExchange(dlx, "dead"),
		amqp.WithMessageTTL(time.Minute),
		amqp.WithMaxLength(1000),
		amqp.WithQueueArgs(amqp091.Table{"x-delivery-limit": int64(5)}),
	)
	s, err := sub.Subscribe(ctxFor(t), topic, transporttest.NewCollector(nil).Handle, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queue := amqp.DefaultQueueName(topic, group)
	want := amqp091.Table{
		"x-queue-type":              "quorum",
		"x-dead-letter-exchange":    dlx,
		"x-dead-letter-routing-key": "dead",
		"x-message-ttl":             int64(60000),
		"x-max-length":              int64(1000),
		"x-delivery-limit":          int64(5),
	}
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		_, err := ch.QueueDeclare(queue, true, false, false, false, want)
		return err
	}); err != nil {
		t.Errorf("declaring %s with the expected arguments: %v", queue, err)
	}
	want["x-max-length"] = int64(999)
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		_, err := ch.QueueDeclare(queue, true, false, false, false, want)
		return err
	}); err == nil {
		t.Errorf("declaring %s with another x-max-length succeeded: the arguments were not set", queue)
	}

	// A subscriber whose options disagree with the queue gets ErrInvalid.
	other := e.subscriber(t)
	_, err = other.Subscribe(ctxFor(t), topic, transporttest.NewCollector(nil).Handle, transport.WithGroup(group))
	if !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("subscribing with other queue arguments: %v, want ErrInvalid (PRECONDITION_FAILED)", err)
	}
}

// TestQuorumAttempts: on a quorum queue Attempt follows x-delivery-count,
// also past 2.
func TestQuorumAttempts(t *testing.T) {
	e := newEnv(t)
	topic := e.names.topic()
	pub, sub := e.publisher(t), e.subscriber(t, amqp.WithQuorumQueues())
	var (
		mu       sync.Mutex
		attempts []int
	)
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, func(ctx context.Context, m *transport.Message) error {
		mu.Lock()
		attempts = append(attempts, m.Attempt)
		mu.Unlock()
		if m.Attempt < 4 {
			return errors.New("again")
		}
		return c.Handle(ctx, m)
	}, transport.WithGroup(e.names.group()), transport.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	got := c.WaitAll(t, 1, wait)
	var d amqp091.Delivery
	if !got[0].As(&d) || d.Headers["x-delivery-count"] == nil {
		t.Errorf("the last delivery has no x-delivery-count header: %v", d.Headers)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2 3 4]" {
		t.Errorf("attempts %v, want [1 2 3 4]", attempts)
	}
}

// TestExistingTopology: with WithExistingTopology brokerkit publishes to and
// consumes from a service's own direct exchange and queue, declaring
// nothing, and a missing one is ErrNotFound.
func TestExistingTopology(t *testing.T) {
	e := newEnv(t)
	exchange := e.names.topic()
	queue := e.names.queueName(exchange, "legacy-orders")
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		if err := ch.ExchangeDeclare(exchange, "direct", true, false, false, false, nil); err != nil {
			return err
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return err
		}
		return ch.QueueBind(queue, "order.created", exchange, false, nil)
	}); err != nil {
		t.Fatal(err)
	}
	existing, direct := amqp.WithExistingTopology(), amqp.WithExchangeType("direct")
	pub := e.publisher(t, existing, direct, amqp.WithRoutingKey(func(_ string, m *transport.Message) string {
		return m.Metadata.Get("event")
	}))
	sub := e.subscriber(t, existing, direct, amqp.WithQueueName(func(string, string) string { return queue }))
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), exchange, c.Handle, transport.WithGroup("any"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := &transport.Message{Payload: []byte("legacy"), Metadata: transport.Metadata{"event": "order.created"}}
	if err := pub.Publish(ctxFor(t), exchange, msg); err != nil {
		t.Fatal(err)
	}
	if got := c.WaitAll(t, 1, wait); got[0].Key != "order.created" || string(got[0].Payload) != "legacy" {
		t.Errorf("got key %q payload %q", got[0].Key, got[0].Payload)
	}

	missing := e.names.topic()
	if err := pub.Publish(ctxFor(t), missing, msg); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("publishing to a missing exchange: %v, want ErrNotFound", err)
	}
	if err := pub.Publish(ctxFor(t), exchange, msg); err != nil {
		t.Errorf("the publisher did not recover from the missing exchange: %v", err)
	}
	other := e.subscriber(t, existing, direct, amqp.WithQueueName(func(string, string) string { return "no-such-queue-" + missing }))
	if _, err := other.Subscribe(ctxFor(t), exchange, c.Handle, transport.WithGroup("any")); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("subscribing to a missing queue: %v, want ErrNotFound", err)
	}
}

// TestBlockedBrokerHoldsPublish: while the broker blocks publishers
// (connection.blocked), Publish waits and returns when its context ends;
// once unblocked, publishing goes on.
func TestBlockedBrokerHoldsPublish(t *testing.T) {
	e := newEnv(t)
	topic := e.names.topic()
	pub := e.publisher(t)
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	amqp.SetBlocked(pub, true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("held")})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("Publish while blocked: %v, want DeadlineExceeded and ErrUnavailable", err)
	}
	amqp.SetBlocked(pub, false)
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("after")}); err != nil {
		t.Errorf("Publish after unblocking: %v", err)
	}
}

// TestConfirmsOff: without confirms Publish returns once written, and the
// messages still arrive.
func TestConfirmsOff(t *testing.T) {
	e := newEnv(t)
	topic := e.names.topic()
	pub, sub := e.publisher(t, amqp.WithConfirms(false), amqp.WithPersistent(false)), e.subscriber(t)
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msgs := make([]*transport.Message, 100)
	for i := range msgs {
		msgs[i] = &transport.Message{Payload: fmt.Appendf(nil, "%d", i)}
	}
	if err := pub.Publish(ctxFor(t), topic, msgs...); err != nil {
		t.Fatal(err)
	}
	got := c.WaitAll(t, len(msgs), wait)
	var d amqp091.Delivery
	if !got[0].As(&d) || d.DeliveryMode != amqp091.Transient {
		t.Errorf("delivery mode %d, want transient", d.DeliveryMode)
	}
}
