package transporttest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// plain returns the options of a subscription that gets every message of
// its topic: a fresh group where the backend has groups, none otherwise.
func (s *suite) plain(t testing.TB, more ...transport.SubscribeOption) []transport.SubscribeOption {
	if s.h.Caps.Groups {
		return append([]transport.SubscribeOption{transport.WithGroup(s.group(t))}, more...)
	}
	return more
}

// awkwardMetadata is metadata that breaks naive header mappings.
var awkwardMetadata = transport.Metadata{
	"empty":              "",
	"Mixed-Case":         "Value With Spaces",
	"non-ascii":          "grüße, 東京, emoji 🚀",
	"ключ":               "значение",
	"with.dots_and-dash": "a=b; c=d, \"quoted\"",
	"long":               string(bytes.Repeat([]byte("x"), 1000)),
	// Well-known names that backends map onto the broker's own properties
	// (AMQP content_type, correlation_id, reply_to, type) and back.
	"content-type":   "application/json; charset=utf-8",
	"correlation-id": "corr-42",
	"reply-to":       "replies.client-7",
	"type":           "order.created",
}

func (s *suite) roundTrip(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	r := NewCollector(nil)
	s.subscribe(t, sub, topic, r.Handle, s.plain(t)...)

	before := time.Now()
	want := []*transport.Message{
		{ID: "id-given-by-caller", Key: "key-1", Payload: []byte("hello"), Metadata: awkwardMetadata},
		{Key: "ключ/🔑", Payload: []byte{0, 0xff, 0xfe, '\n', 0x80, 0}},
		{Payload: nil},
	}
	s.publish(t, pub, topic, want...)
	if want[0].ID != "id-given-by-caller" {
		t.Errorf("Publish changed a caller's ID to %q", want[0].ID)
	}
	for i, m := range want[1:] {
		if m.ID == "" {
			t.Fatalf("Publish left message #%d without an ID", i+1)
		}
	}
	s.waitDistinct(t, r, len(want))
	after := time.Now()

	got := map[string]*transport.Message{}
	for _, m := range r.Messages() {
		got[m.ID] = m
	}
	for _, w := range want {
		g := got[w.ID]
		if g == nil {
			t.Errorf("message %s missing", w.ID)
			continue
		}
		if g.Key != w.Key {
			t.Errorf("%s: key %q, want %q", w.ID, g.Key, w.Key)
		}
		if !bytes.Equal(g.Payload, w.Payload) {
			t.Errorf("%s: payload %q, want %q", w.ID, g.Payload, w.Payload)
		}
		if g.Topic != topic {
			t.Errorf("%s: topic %q, want %q", w.ID, g.Topic, topic)
		}
		if g.Attempt != 1 {
			t.Errorf("%s: attempt %d, want 1", w.ID, g.Attempt)
		}
		for k, v := range w.Metadata {
			if gv, ok := g.Metadata[k]; !ok || gv != v {
				t.Errorf("%s: metadata %q = %q (present %v), want %q", w.ID, k, gv, ok, v)
			}
		}
		for _, native := range s.h.NativeTypes {
			target := reflect.New(reflect.TypeOf(native).Elem())
			if !g.As(target.Interface()) {
				t.Errorf("%s: Message.As(%v) is false, want the backend's native message", w.ID, target.Type())
			}
		}
		if len(w.Metadata) == 0 && len(g.Metadata) != 0 {
			t.Errorf("%s: metadata %v appeared on a message published without any", w.ID, g.Metadata)
		}
		if s.h.Caps.PublishTime {
			// Brokers store milliseconds; allow for the truncation.
			if g.PublishedAt.Before(before.Add(-time.Second)) || g.PublishedAt.After(after.Add(time.Second)) {
				t.Errorf("%s: PublishedAt %v, want between %v and %v", w.ID, g.PublishedAt, before, after)
			}
		}
	}
}

func (s *suite) largePayload(t *testing.T) {
	size := 1 << 20
	if limit := s.h.Caps.MaxPayload; limit > 0 && limit < size {
		size = limit
	}
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	r := NewCollector(nil)
	s.subscribe(t, sub, topic, r.Handle, s.plain(t)...)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	m := &transport.Message{Payload: payload}
	s.publish(t, pub, topic, m)
	s.waitDistinct(t, r, 1)
	if got := r.Messages()[0].Payload; !bytes.Equal(got, payload) {
		t.Fatalf("payload of %d bytes came back as %d bytes, different", size, len(got))
	}
}

func (s *suite) concurrentPublishers(t *testing.T) {
	const publishers, each = 8, 250
	topic := s.topic(t)
	sub := s.subscriber(t)
	r := NewCollector(nil)
	s.subscribe(t, sub, topic, r.Handle, s.plain(t, transport.WithConcurrency(4))...)

	var wg sync.WaitGroup
	all := make([][]*transport.Message, publishers)
	for p := range publishers {
		all[p] = numbered(fmt.Sprintf("p%d", p), each)
		pub := s.publisher(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, m := range all[p] {
				if i%2 == 0 {
					m.Key = fmt.Sprintf("k%d", i%16)
				}
				if err := pub.Publish(s.ctx(t), topic, m); err != nil {
					t.Errorf("publisher %d, message %d: %v", p, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var want []*transport.Message
	for _, ms := range all {
		want = append(want, ms...)
	}
	s.waitDistinct(t, r, len(want))
	mustMatchIDs(t, r, want)
}

func (s *suite) topicIsolation(t *testing.T) {
	a, b := s.topic(t), s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	ra, rb := NewCollector(nil), NewCollector(nil)
	s.subscribe(t, sub, a, ra.Handle, s.plain(t)...)
	s.subscribe(t, sub, b, rb.Handle, s.plain(t)...)
	ma, mb := numbered("a", 5), numbered("b", 3)
	s.publish(t, pub, a, ma...)
	s.publish(t, pub, b, mb...)
	s.waitDistinct(t, ra, len(ma))
	s.waitDistinct(t, rb, len(mb))
	quiet()
	mustMatchIDs(t, ra, ma)
	mustMatchIDs(t, rb, mb)
}

func (s *suite) fanOut(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	r1, r2 := NewCollector(nil), NewCollector(nil)
	s.subscribe(t, sub, topic, r1.Handle, transport.WithGroup(s.group(t)))
	s.subscribe(t, sub, topic, r2.Handle, transport.WithGroup(s.group(t)))
	msgs := numbered("fan", 50)
	s.publish(t, pub, topic, msgs...)
	s.waitDistinct(t, r1, len(msgs))
	s.waitDistinct(t, r2, len(msgs))
	mustMatchIDs(t, r1, msgs)
	mustMatchIDs(t, r2, msgs)
}

func (s *suite) competingConsumers(t *testing.T) {
	topic, group := s.topic(t), s.group(t)
	pub := s.publisher(t)
	shared := NewCollector(nil)
	var perMember [2]atomic.Int64
	for i := range perMember {
		sub := s.subscriber(t)
		s.subscribe(t, sub, topic, func(ctx context.Context, m *transport.Message) error {
			perMember[i].Add(1)
			return shared.Handle(ctx, m)
		}, transport.WithGroup(group))
	}
	msgs := numbered("compete", 200)
	for i, m := range msgs {
		m.Key = fmt.Sprintf("k%d", i%20)
	}
	s.publish(t, pub, topic, msgs...)
	s.waitDistinct(t, shared, len(msgs))
	quiet()
	mustMatchIDs(t, shared, msgs)
	for _, m := range msgs {
		if n := shared.Count(m.ID); n != 1 {
			t.Errorf("message %s handled %d times by the group, want once", m.ID, n)
		}
	}
	t.Logf("members handled %d and %d messages", perMember[0].Load(), perMember[1].Load())
}

func (s *suite) ephemeral(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	early := &transport.Message{Payload: []byte("before any subscriber")}
	s.publish(t, pub, topic, early)

	r1, r2 := NewCollector(nil), NewCollector(nil)
	s.subscribe(t, sub, topic, r1.Handle)
	s.subscribe(t, sub, topic, r2.Handle)
	msgs := numbered("live", 20)
	s.publish(t, pub, topic, msgs...)
	s.waitDistinct(t, r1, len(msgs))
	s.waitDistinct(t, r2, len(msgs))
	quiet()
	// Each ephemeral subscriber sees everything published while it lives,
	// and nothing from before.
	mustMatchIDs(t, r1, msgs)
	mustMatchIDs(t, r2, msgs)
	if r1.Count(early.ID)+r2.Count(early.ID) != 0 {
		t.Errorf("an ephemeral subscriber got a message published before it subscribed")
	}
}
