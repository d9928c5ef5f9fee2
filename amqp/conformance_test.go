package amqp_test

import (
	"strings"
	"testing"

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
				InvalidTopics: []string{"t\xff", "amq.reserved", strings.Repeat("t", 256)},
			})
		})
	}
}
