package amqp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
)

// TestAdmin: the inspection and topic calls against RabbitMQ, with what
// the broker itself says, read over a raw connection.
func TestAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := ctxFor(t)
	pub, sub := e.publisher(t), e.subscriber(t)
	topic, group := e.names.topic(), e.names.group()

	if _, err := transport.Stats(ctx, sub, topic, group); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("Stats of a missing queue: %v, want ErrNotFound", err)
	}
	if _, err := transport.Purge(ctx, sub, topic, group); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("Purge of a missing queue: %v, want ErrNotFound", err)
	}
	for _, bad := range []struct {
		topic string
		spec  transport.TopicSpec
	}{
		{"amq.mine", transport.TopicSpec{}},
		{topic, transport.TopicSpec{Kind: "x-unknown"}},
	} {
		if err := transport.CreateTopic(ctx, pub, bad.topic, bad.spec); !errors.Is(err, transport.ErrInvalid) {
			t.Fatalf("CreateTopic(%q, %+v): %v, want ErrInvalid", bad.topic, bad.spec, err)
		}
	}

	fanout := e.names.topic()
	if err := transport.CreateTopic(ctx, pub, fanout, transport.TopicSpec{Kind: "fanout"}); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		return ch.ExchangeDeclarePassive(fanout, "fanout", true, false, false, false, nil)
	}); err != nil {
		t.Fatalf("the exchange is not there: %v", err)
	}
	// Declaring it again with another type is refused.
	if err := transport.CreateTopic(ctx, pub, fanout, transport.TopicSpec{Kind: "direct"}); !errors.Is(err, transport.ErrInvalid) {
		t.Fatalf("CreateTopic with another type: %v, want ErrInvalid", err)
	}
	// The default type is the configured one ("topic").
	if err := transport.CreateTopic(ctx, sub, topic, transport.TopicSpec{}); err != nil {
		t.Fatal(err)
	}

	s, err := sub.Subscribe(ctx, topic, func(context.Context, *transport.Message) error { return errors.New("not now") },
		transport.WithGroup(group), transport.WithPrefetch(1))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	var st transport.GroupStats
	for ctx.Err() == nil {
		if st, err = transport.Stats(ctx, sub, topic, group); err == nil && st.Ready == 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Ready != 5 || st.Backlog != 5 || st.Unacked != -1 || st.Consumers != 0 {
		t.Fatalf("Stats: %+v, %v; want 5 ready, unacked unknown, no consumer", st, err)
	}
	var q amqp091.Queue
	e.admin.do(t, func(ch *amqp091.Channel) (err error) {
		q, err = ch.QueueDeclarePassive(e.names.queueName(topic, group), true, false, false, false, nil)
		return err
	})
	if int64(q.Messages) != st.Ready {
		t.Fatalf("the broker says %d messages, Stats %d", q.Messages, st.Ready)
	}
	if n, err := transport.Purge(ctx, pub, topic, group); err != nil || n != 5 {
		t.Fatalf("Purge: %d, %v; want 5", n, err)
	}

	if err := transport.DeleteTopic(ctx, pub, topic); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		return ch.ExchangeDeclarePassive(topic, "topic", true, false, false, false, nil)
	}); err == nil {
		t.Fatal("the exchange is still there after DeleteTopic")
	}
	// The publisher declares it again on its next publish.
	if err := pub.Publish(ctx, topic, &transport.Message{}); err != nil {
		t.Fatalf("Publish after DeleteTopic: %v", err)
	}
}
