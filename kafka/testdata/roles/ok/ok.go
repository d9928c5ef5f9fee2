// Package ok gives every option to the constructors that take it; it must
// compile (TestOptionRoles).
package ok

import (
	"crypto/tls"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/kafka"
)

var brokers = []string{"127.0.0.1:9092"}

// both are the options of both roles.
var both = []kafka.Option{
	kafka.WithClientID("id"),
	kafka.WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}),
	kafka.WithSASL(kafka.SASLPlain, "user", "password"),
	kafka.WithTransport(&kafkago.Transport{}),
	kafka.WithDialer(&kafkago.Dialer{}),
	kafka.WithLogger(slog.Default()),
	kafka.WithMaxAttempts(3),
	kafka.WithCreateTopics(-1, -1),
	kafka.WithoutCreateTopics(),
}

func Publisher() (*kafka.Publisher, error) {
	opts := []kafka.PublisherOption{
		kafka.WithRequiredAcks(kafkago.RequireOne),
		kafka.WithBalancer(&kafkago.RoundRobin{}),
		kafka.WithCompression(kafkago.Zstd),
		kafka.WithMaxMessageBytes(1000),
		kafka.WithBatchBytes(1000),
	}
	for _, o := range both {
		opts = append(opts, o)
	}
	return kafka.NewPublisher(brokers, opts...)
}

func Subscriber() (*kafka.Subscriber, error) {
	opts := []kafka.SubscriberOption{
		kafka.WithCommitInterval(time.Second),
		kafka.WithHeartbeatInterval(time.Second),
		kafka.WithSessionTimeout(time.Second),
		kafka.WithRebalanceTimeout(time.Second),
		kafka.WithFetchMaxBytes(1000),
		kafka.WithFetchMaxWait(time.Second),
		kafka.WithFetchLinger(time.Millisecond),
	}
	for _, o := range both {
		opts = append(opts, o)
	}
	return kafka.NewSubscriber(brokers, opts...)
}

// Mixed: options of both roles and one role's, in one call.
func Mixed() {
	_, _ = kafka.NewPublisher(brokers, kafka.WithClientID("id"), kafka.WithRequiredAcks(kafkago.RequireAll))
	_, _ = kafka.NewSubscriber(brokers, kafka.WithClientID("id"), kafka.WithFetchMaxWait(time.Second))
}
