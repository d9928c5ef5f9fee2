package reply_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

// env is one backend opened for a test: a publisher and a subscriber, and a
// function that makes a request topic ready and removes it (and its group
// queue) at the test's end.
type env struct {
	pub   transport.Publisher
	sub   transport.Subscriber
	topic func(t testing.TB, group string) string
	// inProcessBroker: the broker runs in the test process (kfake), so
	// its connection goroutines show in the goroutine count.
	inProcessBroker bool
	// exists reports whether a topic exists, asked of the broker; nil
	// where there is no broker to ask (memory).
	exists func(t testing.TB, topic string) bool
}

type backend struct {
	name string
	open func(t testing.TB) env
}

var backends = []backend{
	{"memory", openMemory},
	{"kafka", openKafka},
	{"rabbitmq", openRabbitMQ},
}

func openMemory(t testing.TB) env {
	b, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return env{pub: b, sub: b, topic: func(t testing.TB, _ string) string { return brokertest.Name(t, "req") }}
}

func openKafka(t testing.TB) env {
	brokers := brokertest.Kafka(t)
	pub, err := kafka.NewPublisher(brokers)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := kafka.NewSubscriber(brokers, kafka.WithCommitInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close(); pub.Close() })
	return env{pub: pub, sub: sub, inProcessBroker: os.Getenv(brokertest.EnvKafkaBrokers) == "",
		topic:  func(t testing.TB, _ string) string { return brokertest.KafkaTopic(t, brokers, 4) },
		exists: func(t testing.TB, topic string) bool { return brokertest.KafkaTopicExists(t, brokers, topic) }}
}

func openRabbitMQ(t testing.TB) env {
	url := brokertest.RabbitMQ(t)
	pub, err := amqp.NewPublisher(url)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := amqp.NewSubscriber(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close(); pub.Close() })
	return env{pub: pub, sub: sub, topic: func(t testing.TB, group string) string {
		topic := brokertest.Name(t, "req")
		t.Cleanup(func() { deleteRabbitTopology(t, url, topic, group) })
		return topic
	}, exists: func(t testing.TB, topic string) bool {
		return brokertest.RabbitMQExchangeExists(t, url, topic)
	}}
}

// deleteRabbitTopology removes a test's exchange and its group's durable
// queue, which outlive the test otherwise.
func deleteRabbitTopology(t testing.TB, url, topic, group string) {
	var queues []string
	if group != "" {
		queues = append(queues, amqp.DefaultQueueName(topic, group))
	}
	brokertest.DeleteRabbitMQ(t, url, []string{topic}, queues)
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
