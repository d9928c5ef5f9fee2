package transporttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// fastRetry keeps redelivery tests quick; the contract says nothing of the
// backoff's length.
var fastRetry = transport.WithBackoff(time.Millisecond, 20*time.Millisecond)

func (s *suite) publisher(t testing.TB) transport.Publisher {
	t.Helper()
	p := s.h.NewPublisher(t)
	t.Cleanup(func() { p.Close() })
	return p
}

func (s *suite) subscriber(t testing.TB) transport.Subscriber {
	t.Helper()
	sub := s.h.NewSubscriber(t)
	t.Cleanup(func() { sub.Close() })
	return sub
}

// ctx returns a context bounded by the harness timeout.
func (s *suite) ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// subscribe subscribes h and closes the subscription at cleanup.
func (s *suite) subscribe(t testing.TB, sub transport.Subscriber, topic string, h transport.Handler,
	opts ...transport.SubscribeOption) *transport.Subscription {
	t.Helper()
	ss, err := sub.Subscribe(s.ctx(t), topic, h, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(func() { ss.Close() })
	return ss
}

func (s *suite) publish(t testing.TB, p transport.Publisher, topic string, msgs ...*transport.Message) {
	t.Helper()
	if err := p.Publish(s.ctx(t), topic, msgs...); err != nil {
		t.Fatalf("Publish(%q, %d messages): %v", topic, len(msgs), err)
	}
}

// numbered returns n messages with payloads "<prefix>-<i>".
func numbered(prefix string, n int) []*transport.Message {
	msgs := make([]*transport.Message, n)
	for i := range msgs {
		msgs[i] = &transport.Message{Payload: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	return msgs
}

// Collector is a handler that records every delivery, by message ID, for
// tests to wait on and check. Backends' own tests use it too.
type Collector struct {
	mu     sync.Mutex
	got    []*transport.Message
	byID   map[string]int // deliveries per ID
	change chan struct{}
	fn     transport.Handler // runs first; its error is the handler's
}

// NewCollector returns a Collector; fn, when not nil, runs first on every
// delivery and its error is the handler's (to fail some on purpose).
func NewCollector(fn transport.Handler) *Collector {
	return &Collector{byID: map[string]int{}, change: make(chan struct{}, 1), fn: fn}
}

// Handle is the transport.Handler.
func (r *Collector) Handle(ctx context.Context, m *transport.Message) error {
	if r.fn != nil {
		if err := r.fn(ctx, m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.got = append(r.got, m)
	r.byID[m.ID]++
	r.mu.Unlock()
	select {
	case r.change <- struct{}{}:
	default:
	}
	return nil
}

// Distinct is how many different IDs were handled successfully.
func (r *Collector) Distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// Messages returns every message handled successfully, in order.
func (r *Collector) Messages() []*transport.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*transport.Message(nil), r.got...)
}

// Count is how many times the message with this ID was handled.
func (r *Collector) Count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

// waitDistinct waits until n distinct IDs were handled, failing the test at
// the harness timeout.
func (s *suite) waitDistinct(t testing.TB, r *Collector, n int) {
	t.Helper()
	waitFor(t, s.h.Timeout, r.change, func() bool { return r.Distinct() >= n },
		func() string { return fmt.Sprintf("%d of %d messages handled", r.Distinct(), n) })
}

// waitFor polls cond on every signal of change, and every 10ms.
func waitFor(t testing.TB, timeout time.Duration, change <-chan struct{}, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-change:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v: %s", timeout, state())
		}
	}
}

// quiet waits a moment for deliveries that must not come: a negative check
// can only ever be a bounded wait.
func quiet() { time.Sleep(300 * time.Millisecond) }

// mustMatchIDs checks that exactly the IDs of want were handled.
func mustMatchIDs(t testing.TB, r *Collector, want []*transport.Message) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range want {
		if r.byID[m.ID] == 0 {
			t.Errorf("message %s (%q) was never handled", m.ID, m.Payload)
		}
	}
	if len(r.byID) != len(want) {
		t.Errorf("handled %d distinct messages, want %d", len(r.byID), len(want))
	}
}

// Wait waits until n distinct messages were handled and returns every
// message handled so far, failing t after timeout (a safety net against a
// hang, not a timing assertion).
func (r *Collector) Wait(t testing.TB, n int, timeout time.Duration) []*transport.Message {
	t.Helper()
	waitFor(t, timeout, r.change, func() bool { return r.Distinct() >= n },
		func() string { return fmt.Sprintf("%d of %d messages handled", r.Distinct(), n) })
	return r.Messages()
}

// WaitAll waits until n messages were handled, counting every delivery of
// one ID, and returns them, failing t after timeout.
func (r *Collector) WaitAll(t testing.TB, n int, timeout time.Duration) []*transport.Message {
	t.Helper()
	waitFor(t, timeout, r.change, func() bool { return len(r.Messages()) >= n },
		func() string { return fmt.Sprintf("%d of %d messages handled", len(r.Messages()), n) })
	return r.Messages()
}
