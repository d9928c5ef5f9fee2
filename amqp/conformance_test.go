package amqp_test

import (
	"strings"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// TestConformance runs the contract suite on the default topology (classic
// queues) and on quorum queues, whose delivery count makes Attempt exact.
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []amqp.SubscriberOption
	}{
		{"classic", nil},
		{"quorum", []amqp.SubscriberOption{amqp.WithQuorumQueues()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			transporttest.Run(t, transporttest.Harness{
				NewPublisher: func(t testing.TB) transport.Publisher {
					p, err := amqp.NewPublisher(e.url)
					if err != nil {
						t.Fatal(err)
					}
					return p
				},
				NewSubscriber: func(t testing.TB) transport.Subscriber {
					s, err := amqp.NewSubscriber(e.url, append([]amqp.SubscriberOption{amqp.WithQueueName(e.names.queueName)}, c.opts...)...)
					if err != nil {
						t.Fatal(err)
					}
					return s
				},
				NewTopic: func(testing.TB) string { return e.names.topic() },
				Caps: transporttest.Capabilities{
					Groups:      true,
					Ephemeral:   true,
					Durable:     true,
					Redelivery:  true,
					Ordering:    true,
					PublishTime: true,
					MaxPayload:  amqp.DefaultMaxPayload,
				},
				NativeTypes: []any{new(amqp091.Delivery)},
				Unreachable: func(t testing.TB, addr string) (transport.Publisher, transport.Subscriber) {
					return newPair(t, "amqp://guest:amqp-s3cret@"+addr+"/")
				},
				Password: "amqp-s3cret",
				WithoutTopicCreation: func(t testing.TB) (transport.Publisher, transport.Subscriber) {
					return newPair(t, e.url, amqp.WithExistingTopology())
				},
				InvalidTopics: []string{"t\xff", "amq.reserved", strings.Repeat("t", 256)},
			})
		})
	}
}

// newPair opens a publisher and a subscriber on url.
func newPair(t testing.TB, url string, opts ...amqp.Option) (transport.Publisher, transport.Subscriber) {
	t.Helper()
	pubOpts, subOpts := make([]amqp.PublisherOption, len(opts)), make([]amqp.SubscriberOption, len(opts))
	for i, o := range opts {
		pubOpts[i], subOpts[i] = o, o
	}
	pub, err := amqp.NewPublisher(url, pubOpts...)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := amqp.NewSubscriber(url, subOpts...)
	if err != nil {
		pub.Close()
		t.Fatal(err)
	}
	return pub, sub
}
