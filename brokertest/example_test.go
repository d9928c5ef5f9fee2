package brokertest_test

import (
	"context"
	"testing"

	_ "github.com/brokerkit/brokerkit/amqp" // registers amqp://
	"github.com/brokerkit/brokerkit/brokertest"
	_ "github.com/brokerkit/brokerkit/kafka" // registers kafka://
	"github.com/brokerkit/brokerkit/transport"
)

// A test of your own against Kafka: KafkaURL starts an in-process kfake
// broker for the test (or uses KAFKA_BROKERS), and Name gives a topic and a
// group no other test uses. An Example has no *testing.T, so the test is a
// function value here; in your package it is func TestOrders(t *testing.T).
// Compiled, not run.
func ExampleKafkaURL() {
	testOrders := func(t *testing.T) {
		ctx := context.Background()
		url := brokertest.KafkaURL(t, "acks=all")
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

		topic := brokertest.Name(t, "orders")
		got := make(chan *transport.Message, 1)
		s, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
			got <- m
			return nil
		}, transport.WithGroup(brokertest.Name(t, "billing")), transport.WithStart(transport.StartOldest))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close() // never by cancelling Subscribe's ctx: it bounds only the set-up

		if err := pub.Publish(ctx, topic, &transport.Message{Key: "customer-7", Payload: []byte("42")}); err != nil {
			t.Fatal(err)
		}
		if m := <-got; string(m.Payload) != "42" {
			t.Errorf("payload %q, want 42", m.Payload)
		}
	}
	_ = testOrders
}

// A test against RabbitMQ: the broker at AMQP_URL. Without it the test is
// skipped with a message naming the variable, or fails with
// BROKERTEST_REQUIRE=1, so that CI never passes without a broker. Compiled,
// not run.
func ExampleRabbitMQ() {
	testOrders := func(t *testing.T) {
		ctx := context.Background()
		url := brokertest.RabbitMQ(t)
		pub, err := transport.OpenPublisher(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()

		topic := brokertest.Name(t, "orders") // an exchange; delete it when done
		defer func() { _ = transport.DeleteTopic(context.Background(), pub, topic) }()
		if err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("42")}); err != nil {
			t.Fatal(err)
		}
	}
	_ = testOrders
}

// KafkaTopic creates a topic with several partitions for one test and
// deletes it at the test's cleanup. Compiled, not run.
func ExampleKafkaTopic() {
	testPartitions := func(t *testing.T) {
		brokers := brokertest.Kafka(t)
		topic := brokertest.KafkaTopic(t, brokers, 4)
		t.Logf("topic %s with 4 partitions on %v", topic, brokers)
	}
	_ = testPartitions
}
