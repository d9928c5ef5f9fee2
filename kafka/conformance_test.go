package kafka_test

import (
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// TestConformance runs the contract suite against the embedded broker (or
// KAFKA_BROKERS), on topics of 3 partitions so that competing group
// members and per-key ordering across partitions are exercised.
func TestConformance(t *testing.T) {
	const maxPayload = 1_000_000 // the publisher's default, under kfake's message.max.bytes
	brokers := brokertest.Kafka(t)
	opts := []kafka.SubscriberOption{
		kafka.WithCommitInterval(50 * time.Millisecond),
		kafka.WithHeartbeatInterval(200 * time.Millisecond),
	}
	transporttest.Run(t, transporttest.Harness{
		NewPublisher: func(t testing.TB) transport.Publisher {
			p, err := kafka.NewPublisher(brokers)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		NewSubscriber: func(t testing.TB) transport.Subscriber {
			s, err := kafka.NewSubscriber(brokers, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NewTopic: func(t testing.TB) string { return brokertest.KafkaTopic(t, brokers, 3) },
		Caps: transporttest.Capabilities{
			Groups: true, Ephemeral: true, Durable: true, Redelivery: true,
			Ordering: true, PublishTime: true, MaxPayload: maxPayload, Replay: true,
		},
		NativeTypes: []any{new(kafkago.Message)},
		Unreachable: func(t testing.TB, addr string) (transport.Publisher, transport.Subscriber) {
			u := "kafka://user:kafka-s3cret@" + addr + "?sasl=plain"
			return open(t, u)
		},
		Password: "kafka-s3cret",
		WithoutTopicCreation: func(t testing.TB) (transport.Publisher, transport.Subscriber) {
			return open(t, "kafka://"+strings.Join(brokers, ",")+"?create_topics=false")
		},
		InvalidTopics: []string{"with space", "hash#", ".", "..", strings.Repeat("t", 250), "nul\x00", "ümlaut"},
	})
}

// open opens a publisher and a subscriber by URL.
func open(t testing.TB, url string) (transport.Publisher, transport.Subscriber) {
	t.Helper()
	pub, err := transport.OpenPublisher(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := transport.OpenSubscriber(t.Context(), url)
	if err != nil {
		pub.Close()
		t.Fatal(err)
	}
	return pub, sub
}
