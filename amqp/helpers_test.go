package amqp_test

import (
	"context"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/brokertest"
)

const wait = 20 * time.Second

// admin is a raw amqp091 connection for setting up and tearing down
// topology, independent of the code under test.
type admin struct {
	conn *amqp091.Connection
}

func newAdmin(t testing.TB, url string) *admin {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &admin{conn: conn}
}

// do runs f on a fresh channel; errors close the channel, so each call
// gets its own.
func (a *admin) do(t testing.TB, f func(ch *amqp091.Channel) error) error {
	t.Helper()
	ch, err := a.conn.Channel()
	if err != nil {
		t.Fatalf("admin channel: %v", err)
	}
	defer ch.Close()
	return f(ch)
}

// names hands out unique names and removes the exchanges and queues behind
// them when the test ends.
type names struct {
	t     testing.TB
	admin *admin
	mu    sync.Mutex
	exch  []string
	queue []string
}

func newNames(t testing.TB, a *admin) *names {
	n := &names{t: t, admin: a}
	t.Cleanup(n.cleanup)
	return n
}

func (n *names) topic() string {
	name := brokertest.Name(n.t, "bk")
	n.mu.Lock()
	n.exch = append(n.exch, name)
	n.mu.Unlock()
	return name
}

func (n *names) group() string { return brokertest.Name(n.t, "g") }

// queueName is the queue naming option of the code under test, recording
// each group queue for removal.
func (n *names) queueName(topic, group string) string {
	name := amqp.DefaultQueueName(topic, group)
	if name != "" {
		n.mu.Lock()
		n.queue = append(n.queue, name)
		n.mu.Unlock()
	}
	return name
}

func (n *names) cleanup() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, q := range n.queue {
		n.admin.do(n.t, func(ch *amqp091.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err })
	}
	for _, e := range n.exch {
		n.admin.do(n.t, func(ch *amqp091.Channel) error { return ch.ExchangeDelete(e, false, false) })
	}
}

// env is what most tests need: the broker URL, an admin connection and
// unique names.
type env struct {
	url   string
	admin *admin
	names *names
}

func newEnv(t testing.TB) *env {
	t.Helper()
	url := brokertest.RabbitMQ(t)
	a := newAdmin(t, url)
	return &env{url: url, admin: a, names: newNames(t, a)}
}

func (e *env) publisher(t testing.TB, opts ...amqp.PublisherOption) *amqp.Publisher {
	t.Helper()
	p, err := amqp.NewPublisher(e.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (e *env) subscriber(t testing.TB, opts ...amqp.SubscriberOption) *amqp.Subscriber {
	t.Helper()
	s, err := amqp.NewSubscriber(e.url, append([]amqp.SubscriberOption{amqp.WithQueueName(e.names.queueName)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}
