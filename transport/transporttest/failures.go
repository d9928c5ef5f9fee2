package transporttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

func (s *suite) redeliveryAfterError(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	var mu sync.Mutex
	var attempts []int
	poison := &transport.Message{Key: "poison", Payload: []byte("fails twice")}
	r := NewCollector(func(_ context.Context, m *transport.Message) error {
		if m.ID != poison.ID {
			return nil
		}
		mu.Lock()
		attempts = append(attempts, m.Attempt)
		mu.Unlock()
		if m.Attempt < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	s.subscribe(t, sub, topic, r.Handle, s.plain(t, fastRetry)...)
	others := numbered("fine", 10)
	s.publish(t, pub, topic, append([]*transport.Message{poison}, others...)...)
	s.waitDistinct(t, r, 1+len(others))
	quiet()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2 3]" {
		t.Errorf("the failing message was delivered with attempts %v, want [1 2 3]", attempts)
	}
	got := r.Messages()
	for _, m := range got {
		if m.ID == poison.ID && string(m.Payload) != string(poison.Payload) {
			t.Errorf("redelivered payload %q, want %q", m.Payload, poison.Payload)
		}
	}
	mustMatchIDs(t, r, append(others, poison))
}

func (s *suite) panickingHandler(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	var panicked atomic.Bool
	r := NewCollector(func(_ context.Context, m *transport.Message) error {
		if string(m.Payload) == "boom" && panicked.CompareAndSwap(false, true) {
			panic("handler bug")
		}
		return nil
	})
	ss := s.subscribe(t, sub, topic, r.Handle, s.plain(t, fastRetry)...)
	boom := &transport.Message{Payload: []byte("boom")}
	s.publish(t, pub, topic, boom)
	s.waitDistinct(t, r, 1)
	if !panicked.Load() {
		t.Fatal("the handler never panicked")
	}
	if got := r.Messages()[0].Attempt; got != 2 {
		t.Errorf("after a panic the message came back with attempt %d, want 2", got)
	}
	// The subscription survived the panic.
	after := &transport.Message{Payload: []byte("after")}
	s.publish(t, pub, topic, after)
	s.waitDistinct(t, r, 2)
	if err := ss.Err(); err != nil {
		t.Errorf("subscription ended: %v", err)
	}
}

func (s *suite) perKeyOrder(t *testing.T) {
	const keys, each = 8, 60
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	var mu sync.Mutex
	next := map[string]int{}
	busy := map[string]bool{}
	r := NewCollector(func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		if busy[m.Key] {
			t.Errorf("key %s: two messages handled at the same time", m.Key)
		}
		busy[m.Key] = true
		var seq int
		fmt.Sscanf(string(m.Payload), "%d", &seq)
		if seq != next[m.Key] {
			t.Errorf("key %s: got message %d, want %d", m.Key, seq, next[m.Key])
		}
		next[m.Key] = seq + 1
		mu.Unlock()
		spin() // let the other workers interleave
		mu.Lock()
		busy[m.Key] = false
		mu.Unlock()
		return nil
	})
	s.subscribe(t, sub, topic, r.Handle, s.plain(t, transport.WithConcurrency(8))...)
	var msgs []*transport.Message
	for i := range each {
		for k := range keys {
			msgs = append(msgs, &transport.Message{Key: fmt.Sprintf("key-%d", k), Payload: fmt.Appendf(nil, "%d", i)})
		}
	}
	// Publish in batches from one goroutine: publish order is the list's order.
	for i := 0; i < len(msgs); i += 40 {
		s.publish(t, pub, topic, msgs[i:min(i+40, len(msgs))]...)
	}
	s.waitDistinct(t, r, len(msgs))
}

// spin does a little work without sleeping, so handlers overlap.
func spin() {
	x := 0
	for i := range 20000 {
		x += i
	}
	_ = x
}
