// Package ok gives every option to the constructors that take it; it must
// compile (TestOptionRoles).
package ok

import (
	"crypto/tls"
	"log/slog"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
)

const url = "amqp://127.0.0.1/"

// both are the options of both roles.
var both = []amqp.Option{
	amqp.WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}),
	amqp.WithLogger(slog.Default()),
	amqp.WithConnectionName("name"),
	amqp.WithReconnectBackoff(time.Second, time.Minute),
	amqp.WithExchangeType("direct"),
	amqp.WithExistingTopology(),
	amqp.WithQueueName(amqp.DefaultQueueName),
}

func Publisher(conn *amqp091.Connection) {
	opts := []amqp.PublisherOption{
		amqp.WithRoutingKey(func(string, *transport.Message) string { return "" }),
		amqp.WithConfirms(true),
		amqp.WithMandatory(true),
		amqp.WithTimestampMillis(false),
		amqp.WithPersistent(false),
		amqp.WithChannels(1),
		amqp.WithConfirmWindow(1),
		amqp.WithMaxPayload(1),
	}
	for _, o := range both {
		opts = append(opts, o)
	}
	_, _ = amqp.NewPublisher(url, opts...)
	_, _ = amqp.NewPublisherFromConnection(conn, opts...)
}

func Subscriber(conn *amqp091.Connection) {
	opts := []amqp.SubscriberOption{
		amqp.WithBindingKey("#"),
		amqp.WithQuorumQueues(),
		amqp.WithDeadLetterExchange("dlx", ""),
		amqp.WithMessageTTL(time.Second),
		amqp.WithMaxLength(1),
		amqp.WithQueueArgs(amqp091.Table{}),
		amqp.WithDefaultPrefetch(1),
	}
	for _, o := range both {
		opts = append(opts, o)
	}
	_, _ = amqp.NewSubscriber(url, opts...)
	_, _ = amqp.NewSubscriberFromConnection(conn, opts...)
}

// Mixed: options of both roles and one role's, in one call.
func Mixed() {
	_, _ = amqp.NewPublisher(url, amqp.WithConnectionName("name"), amqp.WithConfirms(true))
	_, _ = amqp.NewSubscriber(url, amqp.WithConnectionName("name"), amqp.WithQuorumQueues())
}
