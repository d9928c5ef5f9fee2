package integration_test

import (
	"sync"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/middleware/middlewaretest"
	"github.com/brokerkit/brokerkit/transport"
)

// The middleware scenarios on RabbitMQ at AMQP_URL.
func TestMiddlewareOnRabbitMQ(t *testing.T) {
	url := brokertest.RabbitMQ(t)
	// Remember every topic and group, to delete the exchanges and the
	// groups' durable queues afterwards.
	var mu sync.Mutex
	var topics, groups []string
	t.Cleanup(func() { deleteTopology(t, url, topics, groups) })
	middlewaretest.Run(t, middlewaretest.Harness{
		NewPublisher: func(t testing.TB) transport.Publisher {
			p, err := amqp.NewPublisher(url)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		NewSubscriber: func(t testing.TB) transport.Subscriber {
			s, err := amqp.NewSubscriber(url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NewTopic: func(t testing.TB) string {
			name := brokertest.Name(t, "mwtopic")
			mu.Lock()
			topics = append(topics, name)
			mu.Unlock()
			return name
		},
		NewGroup: func(t testing.TB) string {
			name := brokertest.Name(t, "mwgroup")
			mu.Lock()
			groups = append(groups, name)
			mu.Unlock()
			return name
		},
		System:  "rabbitmq",
		Timeout: time.Minute,
	})
}

// deleteTopology deletes topics' exchanges and their groups' queues.
func deleteTopology(t *testing.T, url string, topics, groups []string) {
	var queues []string
	for _, topic := range topics {
		for _, group := range groups {
			queues = append(queues, amqp.DefaultQueueName(topic, group))
		}
	}
	brokertest.DeleteRabbitMQ(t, url, topics, queues)
}
