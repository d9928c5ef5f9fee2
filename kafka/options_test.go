package kafka_test

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// roundTrip publishes three messages and waits for them on a new
// subscription without a group.
func roundTrip(t *testing.T, pub transport.Publisher, sub transport.Subscriber, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctx, topic, c.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msgs := []*transport.Message{
		{Key: "a", Payload: []byte("one")}, {Key: "b", Payload: []byte("two")}, {Payload: []byte("three")},
	}
	if err := pub.Publish(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range c.WaitAll(t, len(msgs), wait) {
		got[string(m.Payload)] = true
	}
	for _, m := range msgs {
		if !got[string(m.Payload)] {
			t.Errorf("%q not delivered", m.Payload)
		}
	}
}

// TestURLOptions publishes and consumes with each compression codec, acks
// level and balancer, chosen by URL.
func TestURLOptions(t *testing.T) {
	brokers := brokertest.Kafka(t)
	for _, query := range []string{
		"compression=gzip", "compression=snappy", "compression=lz4", "compression=zstd",
		"acks=one", "acks=none", "balancer=crc32", "balancer=round_robin&client_id=options-test",
	} {
		t.Run(query, func(t *testing.T) {
			topic := brokertest.KafkaTopic(t, brokers, 2)
			ctx := context.Background()
			u := "kafka://" + brokers[0] + "?" + query
			pub, err := transport.OpenPublisher(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			sub, err := transport.OpenSubscriber(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			roundTrip(t, pub, sub, topic)
		})
	}
}

// TestAdoptedClients: a service's own kafka-go Transport and Dialer serve
// brokerkit.
func TestAdoptedClients(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 2)
	tr := &kafkago.Transport{ClientID: "my-service"}
	defer tr.CloseIdleConnections()
	dialer := &kafkago.Dialer{ClientID: "my-service", Timeout: 10 * time.Second}
	for name, opt := range map[string][]kafka.Option{
		"transport":            {kafka.WithTransport(tr)},
		"dialer":               {kafka.WithDialer(dialer)},
		"transport and dialer": {kafka.WithTransport(tr), kafka.WithDialer(dialer)},
	} {
		t.Run(name, func(t *testing.T) {
			pub, sub := newPair(t, brokers, opt...)
			roundTrip(t, pub, sub, topic)
		})
	}
}
