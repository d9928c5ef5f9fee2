// Package wrong gives options to a constructor of the other role: each line
// marked "want error" must fail to compile, and no other (TestOptionRoles).
package wrong

import (
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
)

const url = "amqp://127.0.0.1/"

func Publisher(conn *amqp091.Connection) {
	_, _ = amqp.NewPublisher(url, amqp.WithBindingKey("#"))               // want error
	_, _ = amqp.NewPublisher(url, amqp.WithQuorumQueues())                // want error
	_, _ = amqp.NewPublisher(url, amqp.WithDeadLetterExchange("dlx", "")) // want error
	_, _ = amqp.NewPublisher(url, amqp.WithMessageTTL(time.Second))       // want error
	_, _ = amqp.NewPublisher(url, amqp.WithMaxLength(1))                  // want error
	_, _ = amqp.NewPublisher(url, amqp.WithQueueArgs(amqp091.Table{}))    // want error
	_, _ = amqp.NewPublisher(url, amqp.WithDefaultPrefetch(1))            // want error
	_, _ = amqp.NewPublisherFromConnection(conn, amqp.WithQuorumQueues()) // want error
	subOpts := []amqp.SubscriberOption{amqp.WithConnectionName("name")}
	_, _ = amqp.NewPublisher(url, subOpts...) // want error
}

func Subscriber(conn *amqp091.Connection) {
	_, _ = amqp.NewSubscriber(url, amqp.WithRoutingKey(func(string, *transport.Message) string { return "" })) // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithConfirms(true))                                                    // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithMandatory(true))                                                   // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithTimestampMillis(true))                                             // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithPersistent(true))                                                  // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithChannels(1))                                                       // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithConfirmWindow(1))                                                  // want error
	_, _ = amqp.NewSubscriber(url, amqp.WithMaxPayload(1))                                                     // want error
	_, _ = amqp.NewSubscriberFromConnection(conn, amqp.WithConfirms(true))                                     // want error
	pubOpts := []amqp.PublisherOption{amqp.WithConnectionName("name")}
	_, _ = amqp.NewSubscriber(url, pubOpts...) // want error
}

// Both: a role's option is not an Option of both roles.
func Both() {
	_ = []amqp.Option{amqp.WithConfirms(true)} // want error
	_ = []amqp.Option{amqp.WithQuorumQueues()} // want error
}
