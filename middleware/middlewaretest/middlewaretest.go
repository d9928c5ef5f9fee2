// Package middlewaretest runs the middleware's scenarios on a real backend:
// the same tests on memory, Kafka and RabbitMQ, so that what the middleware
// promise holds whatever carries the messages.
//
//	func TestMiddleware(t *testing.T) {
//		middlewaretest.Run(t, middlewaretest.Harness{
//			NewPublisher:  func(t testing.TB) transport.Publisher { ... },
//			NewSubscriber: func(t testing.TB) transport.Subscriber { ... },
//		})
//	}
//
// The scenarios:
//
//   - PoisonToDeadLetter: a message that always fails reaches the
//     dead-letter topic after N deliveries, unchanged but for the dlq-*
//     metadata, while the other messages flow; nothing is lost.
//   - DuplicatesHandledOnce: every message published twice is handled once,
//     also one whose first handling failed.
//   - TraceFromPublishToHandler: one OpenTelemetry trace runs from Publish to
//     the handler, and the latency histograms are recorded.
//   - SecureEnvelope: messages sealed and signed by middleware/secure are
//     handled in clear; tampered ones (payload, header, topic, ID, wrong or
//     unknown key, unsigned) reach the dead-letter topic after one attempt
//     with the reason; keys rotate, and a retired key's messages are
//     refused as such.
//
// The backend must redeliver a failed message with Message.Attempt raised
// (transporttest's Redelivery capability) and support groups.
package middlewaretest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// Harness tells the scenarios how to reach the backend under test.
type Harness struct {
	// NewPublisher returns a new publisher; the scenario closes it.
	NewPublisher func(t testing.TB) transport.Publisher
	// NewSubscriber returns a new subscriber; the scenario closes it. It
	// must reach the same broker as NewPublisher.
	NewSubscriber func(t testing.TB) transport.Subscriber
	// NewTopic returns a topic name no other test uses, created on the
	// broker when the backend needs that (Kafka), removed at t's cleanup.
	// Nil: unique names made here.
	NewTopic func(t testing.TB) string
	// NewGroup returns a group name no other test uses. Nil: unique names
	// made here.
	NewGroup func(t testing.TB) string
	// System is the messaging.system the tracing scenario expects on its
	// spans ("kafka", "rabbitmq", "memory"). Default "brokerkit".
	System string
	// Timeout bounds each wait for deliveries. Default 30s.
	Timeout time.Duration
	// SubscribeOptions are added to every Subscribe; the scenarios already
	// set a group and a short redelivery backoff.
	SubscribeOptions []transport.SubscribeOption
}

// Run runs every scenario as a subtest of t.
func Run(t *testing.T, h Harness) {
	if h.NewPublisher == nil || h.NewSubscriber == nil {
		t.Fatal("middlewaretest: Harness needs NewPublisher and NewSubscriber")
	}
	if h.NewTopic == nil {
		h.NewTopic = func(t testing.TB) string { return transporttest.Name(t, "mwtopic") }
	}
	if h.NewGroup == nil {
		h.NewGroup = func(t testing.TB) string { return transporttest.Name(t, "mwgroup") }
	}
	if h.System == "" {
		h.System = "brokerkit"
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	t.Run("PoisonToDeadLetter", func(t *testing.T) { PoisonToDeadLetter(t, h) })
	t.Run("DuplicatesHandledOnce", func(t *testing.T) { DuplicatesHandledOnce(t, h) })
	t.Run("TraceFromPublishToHandler", func(t *testing.T) { TraceFromPublishToHandler(t, h) })
	t.Run("SecureEnvelope", func(t *testing.T) { SecureEnvelope(t, h) })
}

// subscribe opens a subscription that is closed at t's cleanup.
func (h Harness) subscribe(t *testing.T, sub transport.Subscriber, topic, group string, hd transport.Handler,
	opts ...transport.SubscribeOption) *transport.Subscription {
	t.Helper()
	all := append([]transport.SubscribeOption{transport.WithGroup(group),
		transport.WithBackoff(time.Millisecond, 20*time.Millisecond)}, opts...)
	all = append(all, h.SubscribeOptions...)
	// Not a context with a timeout: cancelling Subscribe's context would
	// end the subscription.
	s, err := sub.Subscribe(context.Background(), topic, hd, all...)
	if err != nil {
		t.Fatalf("subscribe to %s: %v", topic, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (h Harness) publisher(t *testing.T) transport.Publisher {
	p := h.NewPublisher(t)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func (h Harness) subscriber(t *testing.T) transport.Subscriber {
	s := h.NewSubscriber(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond until it holds or the harness's timeout passes.
func (h Harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(h.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", h.Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counter counts by string key, safely.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
	return c.n[k]
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
