package amqp_test

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

func TestPublishSubscribe(t *testing.T) {
	e := newEnv(t)
	pub, sub := e.publisher(t), e.subscriber(t)
	for _, group := range []string{"", e.names.group()} {
		t.Run(fmt.Sprintf("group=%q", group), func(t *testing.T) {
			topic := e.names.topic()
			c := transporttest.NewCollector(nil)
			var opts []transport.SubscribeOption
			if group != "" {
				opts = append(opts, transport.WithGroup(group))
			}
			s, err := sub.Subscribe(ctxFor(t), topic, c.Handle, opts...)
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
			got := c.WaitAll(t, 2, wait)
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
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("c")}); err != nil {
		t.Fatalf("routable message: %v", err)
	}
	c.WaitAll(t, 1, wait)
}

// TestTimestampMillis: with WithTimestampMillis the publish time travels in
// milliseconds; without it, in whole seconds and with no headers table.
func TestTimestampMillis(t *testing.T) {
	e := newEnv(t)
	for _, millis := range []bool{true, false} {
		t.Run(fmt.Sprint("millis=", millis), func(t *testing.T) {
			topic := e.names.topic()
			pub, sub := e.publisher(t, amqp.WithTimestampMillis(millis)), e.subscriber(t)
			c := transporttest.NewCollector(nil)
			s, err := sub.Subscribe(ctxFor(t), topic, c.Handle)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := time.Now()
			if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("t")}); err != nil {
				t.Fatal(err)
			}
			got := c.WaitAll(t, 1, wait)[0]
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

// A call larger than the confirm window used to wait for tokens it held
// itself, forever with context.Background().
func TestPublishLargerThanConfirmWindow(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		opts   []amqp.PublisherOption
		window int
		n      int
	}{
		{"default window", nil, amqp.DefaultConfirmWindow, amqp.DefaultConfirmWindow + 1},
		{"window 64", []amqp.PublisherOption{amqp.WithConfirmWindow(64)}, 64, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, sub := e.publisher(t, tc.opts...), e.subscriber(t)
			topic := e.names.topic()
			c := transporttest.NewCollector(nil)
			s, err := sub.Subscribe(ctxFor(t), topic, c.Handle, transport.WithGroup(e.names.group()), transport.WithConcurrency(8))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			msgs := make([]*transport.Message, tc.n)
			for i := range msgs {
				msgs[i] = &transport.Message{Payload: []byte(strconv.Itoa(i))}
			}
			// The deadline only keeps a regression from hanging the run:
			// the call used to block until its context ended.
			if err := pub.Publish(ctxFor(t), topic, msgs...); err != nil {
				t.Fatalf("Publish of %d messages with a window of %d: %v", tc.n, tc.window, err)
			}
			got := map[string]bool{}
			for _, m := range c.WaitAll(t, tc.n, wait) {
				got[string(m.Payload)] = true
			}
			if len(got) != tc.n {
				t.Errorf("%d distinct messages delivered, want %d", len(got), tc.n)
			}
		})
	}
}

// Well-known metadata travels as the AMQP properties other clients use
// (a Spring or Node service sets correlation_id and reply_to), both ways.
func TestWellKnownMetadataAsProperties(t *testing.T) {
	e := newEnv(t)
	pub, sub := e.publisher(t), e.subscriber(t)
	topic := e.names.topic()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle, transport.WithGroup(e.names.group()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Another client's message: properties, no headers.
	err = e.admin.do(t, func(ch *amqp091.Channel) error {
		return ch.PublishWithContext(ctxFor(t), topic, "", false, false, amqp091.Publishing{
			ContentType: "application/json", ContentEncoding: "gzip", CorrelationId: "conv-1",
			ReplyTo: "replies.client-1", Type: "order.created", Body: []byte("{}"),
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := c.WaitAll(t, 1, wait)[0]
	want := transport.Metadata{
		transport.MetaContentType: "application/json", transport.MetaContentEncoding: "gzip",
		transport.MetaCorrelationID: "conv-1", transport.MetaReplyTo: "replies.client-1",
		transport.MetaType: "order.created",
	}
	for k, v := range want {
		if got.Metadata[k] != v {
			t.Errorf("metadata %q = %q, want %q (from the property)", k, got.Metadata[k], v)
		}
	}

	// brokerkit's message, read by a raw consumer: properties, not headers.
	q := e.names.queueName(topic, "raw")
	var d amqp091.Delivery
	err = e.admin.do(t, func(ch *amqp091.Channel) error {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			return err
		}
		if err := ch.QueueBind(q, "#", topic, false, nil); err != nil {
			return err
		}
		long := string(bytes.Repeat([]byte("c"), 300)) // too long for a property: a header
		if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("x"), Metadata: transport.Metadata{
			transport.MetaContentType: "text/plain", transport.MetaCorrelationID: long, transport.MetaReplyTo: "replies",
		}}); err != nil {
			return err
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			var ok bool
			if d, ok, err = ch.Get(q, true); err != nil || ok {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		return errors.New("no message in the raw queue")
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.ContentType != "text/plain" || d.ReplyTo != "replies" {
		t.Errorf("properties content_type=%q reply_to=%q, want text/plain, replies", d.ContentType, d.ReplyTo)
	}
	if _, ok := d.Headers[transport.MetaContentType]; ok {
		t.Errorf("content-type sent as a header too: %v", d.Headers)
	}
	if d.CorrelationId != "" || len(fmt.Sprint(d.Headers[transport.MetaCorrelationID])) != 300 {
		t.Errorf("a 300-byte correlation ID: property %q, header %v; want it in the header", d.CorrelationId, d.Headers[transport.MetaCorrelationID])
	}
}
