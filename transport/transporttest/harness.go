// Package transporttest is the conformance suite every brokerkit backend
// runs, ours or a third party's: a backend's test declares a Harness with its
// capabilities and calls Run. The suite checks each line of the delivery
// contract the backend claims, and never skips a claimed capability.
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, transporttest.Harness{
//			NewPublisher:  func(t testing.TB) transport.Publisher { ... },
//			NewSubscriber: func(t testing.TB) transport.Subscriber { ... },
//			Caps:          transporttest.Capabilities{Groups: true, ...},
//		})
//	}
//
// Set BROKERKIT_STRESS=N (or -transporttest.stress=N) to run the whole suite
// N times, to shake out races and flaky delivery.
package transporttest

import (
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Capabilities is what a backend claims; the suite checks every claim.
type Capabilities struct {
	// Groups: subscriptions sharing a group share its messages (each to
	// one member) and each group gets every message.
	Groups bool
	// Ephemeral: a subscription without a group sees what is published
	// while it lives.
	Ephemeral bool
	// Durable: a group keeps the messages published while none of its
	// members is subscribed, and hands them over when one returns.
	Durable bool
	// Redelivery: a handler error or panic has the message delivered
	// again, with Message.Attempt raised.
	Redelivery bool
	// Ordering: messages with the same key are handled one at a time in
	// publish order, also at concurrency above 1.
	Ordering bool
	// MaxPayload is the largest payload the backend accepts; Publish of a
	// larger one must fail with ErrTooLarge before sending. 0: no limit is
	// enforced and the suite does not test one.
	MaxPayload int
	// PublishTime: Message.PublishedAt is set on delivery.
	PublishTime bool
	// Replay: the broker keeps a log, so WithStart(StartOldest) replays
	// what a new group has not seen. Without it the option must be refused
	// with ErrInvalid.
	Replay bool
}

// Harness tells the suite how to reach the backend under test.
type Harness struct {
	// NewPublisher returns a new publisher; the suite closes it.
	NewPublisher func(t testing.TB) transport.Publisher
	// NewSubscriber returns a new subscriber; the suite closes it.
	NewSubscriber func(t testing.TB) transport.Subscriber
	// NewTopic returns a topic name no other test uses, created on the
	// broker when the backend needs that, and removed at t's cleanup.
	// Nil: the suite makes unique names itself.
	NewTopic func(t testing.TB) string
	// NewGroup returns a group name no other test uses, removing what the
	// broker keeps for it at t's cleanup. Nil: the suite makes unique names.
	NewGroup func(t testing.TB) string
	// InvalidTopics are names the broker would refuse; Publish and
	// Subscribe must reject each with ErrInvalid before sending anything.
	InvalidTopics []string
	// NativeTypes are pointers to the types Message.As reaches on delivery
	// (new(kafkago.Message), new(amqp091.Delivery)); the suite checks every
	// delivered message reaches each.
	NativeTypes []any
	// Unreachable returns a publisher and a subscriber for a broker at addr
	// ("127.0.0.1:port"), which the suite makes refuse connections or
	// accept them and say nothing. Publish and Subscribe there must return
	// by their context's deadline, with the deadline's error or an
	// ErrUnavailable one, and without the URL's password. Nil: the backend
	// reaches no broker over the network (memory).
	Unreachable func(t testing.TB, addr string) (transport.Publisher, transport.Subscriber)
	// Password is the password Unreachable puts in its URLs, which no error
	// may show.
	Password string
	// WithoutTopicCreation returns clients that do not create missing
	// topics: publishing or subscribing to one must fail with ErrNotFound,
	// naming it. Nil: the backend has no missing topics (memory creates
	// them, as every backend does by default).
	WithoutTopicCreation func(t testing.TB) (transport.Publisher, transport.Subscriber)
	// Timeout bounds each wait for a delivery. Default 20s.
	Timeout time.Duration
	// Caps is what the backend claims.
	Caps Capabilities
}
