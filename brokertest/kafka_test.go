package brokertest_test

import (
	"context"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"

	_ "github.com/brokerkit/brokerkit/kafka"
)

// TestKafka publishes and receives through the broker brokertest.Kafka
// gives: embedded unless KAFKA_BROKERS is set.
func TestKafka(t *testing.T) {
	url := brokertest.KafkaURL(t, "partitions=1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := brokertest.Name(t, "bk")
	pub, err := transport.OpenPublisher(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := transport.OpenSubscriber(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, 1)
	s, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
		got <- string(m.Payload)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != "hello" {
			t.Fatalf("got %q", p)
		}
	case <-ctx.Done():
		t.Fatal("no delivery")
	}
}
