package amqp_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
)

func TestPublishSubscribe(t *testing.T) {
	e := newEnv(t)
	pub, sub := e.publisher(t), e.subscriber(t)
	for _, group := range []string{"", e.names.group()} {
		t.Run(fmt.Sprintf("group=%q", group), func(t *testing.T) {
			topic := e.names.topic()
			c := newCollector()
			var opts []transport.SubscribeOption
			if group != "" {
				opts = append(opts, transport.WithGroup(group))
			}
			s, err := sub.Subscribe(ctxFor(t), topic, c.handle, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			msgs := []*transport.Message{
				{Key: "a.b", Payload: []byte("one"), Metadata: transport.Metadata{"k": "v"}},
				{Payload: []byte("two")}, // empty key: routing key ""
			}
			if err := pub.Publish(ctxFor(t), topic, msgs...); err != nil {
				t.Fatal(err)
			}
			got := c.waitFor(t, 2)
			byID := map[string]*transport.Message{}
			for _, m := range got {
				byID[m.ID] = m
			}
			for _, w := range msgs {
				g := byID[w.ID]
				if g == nil {
					t.Fatalf("message %s missing", w.ID)
				}
				if g.Key != w.Key || string(g.Payload) != string(w.Payload) || g.Metadata.Get("k") != w.Metadata.Get("k") {
					t.Errorf("got key %q payload %q metadata %v, want %q %q %v", g.Key, g.Payload, g.Metadata, w.Key, w.Payload, w.Metadata)
				}
				if _, ok := g.Metadata[amqp.HeaderTimestampMillis]; ok {
					t.Errorf("the timestamp header leaked into Metadata: %v", g.Metadata)
				}
				if g.PublishedAt.IsZero() {
					t.Error("PublishedAt not set")
				}
				var d amqp091.Delivery
				if !g.As(&d) || d.MessageId != w.ID {
					t.Errorf("As(*amqp091.Delivery) = %v, message_id %q", g.As(&d), d.MessageId)
				}
			}
		})
	}
}

func TestMandatoryUnroutable(t *testing.T) {
	e := newEnv(t)
	pub := e.publisher(t, amqp.WithMandatory(true))
	topic := e.names.topic()
	// No queue is bound: every message is returned.
	msgs := []*transport.Message{{Payload: []byte("a")}, {Payload: []byte("b")}}
	err := pub.Publish(ctxFor(t), topic, msgs...)
	var pe *transport.PublishError
	if !errors.As(err, &pe) || len(pe.Failed) != 2 {
		t.Fatalf("Publish of unroutable messages: %v, want a PublishError for both", err)
	}
	if !errors.Is(err, transport.ErrNotConfirmed) {
		t.Errorf("error %v does not match ErrNotConfirmed", err)
	}

	// Once a queue is bound, the same publisher delivers.
	sub := e.subscriber(t)
	c := newCollector()
	s, err := sub.Subscribe(ctxFor(t), topic, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("c")}); err != nil {
		t.Fatalf("routable message: %v", err)
	}
	c.waitFor(t, 1)
}

// TestTimestampMillis: with WithTimestampMillis the publish time travels in
// milliseconds; without it, in whole seconds and with no headers table.
func TestTimestampMillis(t *testing.T) {
	e := newEnv(t)
	for _, millis := range []bool{true, false} {
		t.Run(fmt.Sprint("millis=", millis), func(t *testing.T) {
			topic := e.names.topic()
			pub, sub := e.publisher(t, amqp.WithTimestampMillis(millis)), e.subscriber(t)
			c := newCollector()
			s, err := sub.Subscribe(ctxFor(t), topic, c.handle)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := time.Now()
			if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("t")}); err != nil {
				t.Fatal(err)
			}
			got := c.waitFor(t, 1)[0]
			var d amqp091.Delivery
			got.As(&d)
			ms, ok := d.Headers[amqp.HeaderTimestampMillis].(int64)
			switch {
			case millis && (!ok || !got.PublishedAt.Equal(time.UnixMilli(ms))):
				t.Errorf("PublishedAt %v, header %v", got.PublishedAt, d.Headers)
			case millis && got.PublishedAt.Before(before.Truncate(time.Millisecond)):
				t.Errorf("PublishedAt %v is before the publish at %v", got.PublishedAt, before)
			case !millis && (d.Headers != nil || !got.PublishedAt.Equal(d.Timestamp)):
				t.Errorf("headers %v, PublishedAt %v, timestamp %v", d.Headers, got.PublishedAt, d.Timestamp)
			}
			if len(got.Metadata) != 0 {
				t.Errorf("Metadata %v, want none", got.Metadata)
			}
		})
	}
}
