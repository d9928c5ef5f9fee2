package integration_test

import (
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/middleware/middlewaretest"
	"github.com/brokerkit/brokerkit/transport"
)

// The middleware scenarios on Kafka: the brokers in KAFKA_BROKERS, or an embedded
// kfake cluster.
func TestMiddlewareOnKafka(t *testing.T) {
	brokers := brokertest.Kafka(t)
	middlewaretest.Run(t, middlewaretest.Harness{
		NewPublisher: func(t testing.TB) transport.Publisher {
			p, err := kafka.NewPublisher(brokers)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		NewSubscriber: func(t testing.TB) transport.Subscriber {
			s, err := kafka.NewSubscriber(brokers)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NewTopic: func(t testing.TB) string { return brokertest.KafkaTopic(t, brokers, 2) },
		System:   "kafka",
		Timeout:  time.Minute,
	})
}
