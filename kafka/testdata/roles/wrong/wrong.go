// Package wrong gives options to a constructor of the other role: each line
// marked "want error" must fail to compile, and no other (TestOptionRoles).
package wrong

import (
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/kafka"
)

var brokers = []string{"127.0.0.1:9092"}

func Publisher() {
	_, _ = kafka.NewPublisher(brokers, kafka.WithFetchMaxWait(time.Second))      // want error
	_, _ = kafka.NewPublisher(brokers, kafka.WithFetchLinger(time.Millisecond))  // want error
	_, _ = kafka.NewPublisher(brokers, kafka.WithCommitInterval(time.Second))    // want error
	_, _ = kafka.NewPublisher(brokers, kafka.WithSessionTimeout(time.Second))    // want error
	_, _ = kafka.NewPublisher(brokers, kafka.WithRebalanceTimeout(time.Second))  // want error
	_, _ = kafka.NewPublisher(brokers, kafka.WithHeartbeatInterval(time.Second)) // want error
	_, _ = kafka.NewPublisher(brokers, kafka.WithFetchMaxBytes(1))               // want error
	subOpts := []kafka.SubscriberOption{kafka.WithClientID("id")}
	_, _ = kafka.NewPublisher(brokers, subOpts...) // want error
}

func Subscriber() {
	_, _ = kafka.NewSubscriber(brokers, kafka.WithRequiredAcks(kafkago.RequireOne)) // want error
	_, _ = kafka.NewSubscriber(brokers, kafka.WithBalancer(&kafkago.RoundRobin{}))  // want error
	_, _ = kafka.NewSubscriber(brokers, kafka.WithCompression(kafkago.Gzip))        // want error
	_, _ = kafka.NewSubscriber(brokers, kafka.WithMaxMessageBytes(1))               // want error
	_, _ = kafka.NewSubscriber(brokers, kafka.WithBatchBytes(1))                    // want error
	pubOpts := []kafka.PublisherOption{kafka.WithClientID("id")}
	_, _ = kafka.NewSubscriber(brokers, pubOpts...) // want error
}

// Both: a role's option is not an Option of both roles.
func Both() {
	_ = []kafka.Option{kafka.WithRequiredAcks(kafkago.RequireOne)} // want error
	_ = []kafka.Option{kafka.WithFetchMaxWait(time.Second)}        // want error
}
