package amqp

import (
	"fmt"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// checkName rejects a topic that cannot name an exchange: empty (the
// default exchange is not a topic), longer than AMQP's 255 bytes, or in the
// "amq." namespace, which RabbitMQ reserves.
func checkName(topic string) error {
	if err := driver.CheckTopic(topic); err != nil {
		return err
	}
	if len(topic) > maxShortString {
		return transport.Invalidf("amqp: topic of %d bytes: exchange names are limited to %d", len(topic), maxShortString)
	}
	if !utf8.ValidString(topic) {
		// RabbitMQ answers a name that is not UTF-8 by closing the whole
		// connection (501 FRAME_ERROR), which would look like an outage.
		return transport.Invalidf("amqp: topic %q is not valid UTF-8, which RabbitMQ requires of exchange names", topic)
	}
	if len(topic) >= 4 && topic[:4] == "amq." {
		return transport.Invalidf("amqp: topic %q: names starting with \"amq.\" are reserved by the broker", topic)
	}
	return nil
}

// declareExchange declares topic's exchange (durable, of the configured
// type), or with WithExistingTopology checks that it exists. Declaring is
// idempotent; a different type or durability of an existing exchange is an
// ErrInvalid error (PRECONDITION_FAILED), and closes ch.
func (c *config) declareExchange(ch *amqp.Channel, topic string) error {
	var err error
	if c.existing {
		err = ch.ExchangeDeclarePassive(topic, c.exchangeType, true, false, false, false, nil)
	} else {
		err = ch.ExchangeDeclare(topic, c.exchangeType, true, false, false, false, nil)
	}
	if err != nil {
		return classify.Wrap("declare exchange", fmt.Errorf("exchange %q: %w", topic, err))
	}
	return nil
}

// queueSpec is the queue of one subscription.
type queueSpec struct {
	name      string // "" asks the broker for a name
	ephemeral bool   // exclusive, auto-deleted, never quorum
	bind      bool   // bind it to the topic's exchange
}

func (c *config) queueFor(topic, group string) (queueSpec, error) {
	name := c.queueName(topic, group)
	if len(name) > maxShortString {
		return queueSpec{}, transport.Invalidf("amqp: queue name of %d bytes: the limit is %d", len(name), maxShortString)
	}
	if !utf8.ValidString(name) {
		return queueSpec{}, transport.Invalidf("amqp: queue name %q (group %q) is not valid UTF-8, which RabbitMQ requires", name, group)
	}
	if group == "" {
		return queueSpec{name: name, ephemeral: true, bind: true}, nil
	}
	if name == "" {
		return queueSpec{}, transport.Invalidf("amqp: WithQueueName gave an empty name for group %q", group)
	}
	return queueSpec{name: name, bind: !c.existing}, nil
}

// groupArgs are the arguments of a group's queue.
func (c *config) groupArgs() amqp.Table {
	args := amqp.Table{}
	if c.quorum {
		args["x-queue-type"] = "quorum"
	}
	if c.deadLetterEx != "" {
		args["x-dead-letter-exchange"] = c.deadLetterEx
		if c.deadLetterRK != nil {
			args["x-dead-letter-routing-key"] = *c.deadLetterRK
		}
	}
	if c.messageTTL > 0 {
		args["x-message-ttl"] = c.messageTTL.Milliseconds()
	}
	if c.maxLength > 0 {
		args["x-max-length"] = int64(c.maxLength)
	}
	for k, v := range c.queueArgs {
		args[k] = v
	}
	if len(args) == 0 {
		return nil
	}
	return args
}

// declareQueue declares the subscription's queue, binds it to the topic's
// exchange and returns its name (the broker's, for a server-named queue).
// With WithExistingTopology a group's queue is only checked.
func (c *config) declareQueue(ch *amqp.Channel, topic string, q queueSpec) (string, error) {
	var (
		decl amqp.Queue
		err  error
	)
	switch {
	case q.ephemeral:
		decl, err = ch.QueueDeclare(q.name, false, true, true, false, nil)
	case c.existing:
		decl, err = ch.QueueDeclarePassive(q.name, true, false, false, false, nil)
	default:
		decl, err = ch.QueueDeclare(q.name, true, false, false, false, c.groupArgs())
	}
	if err != nil {
		return "", classify.Wrap("declare queue", fmt.Errorf("queue %q: %w", q.name, err))
	}
	if q.bind {
		if err := ch.QueueBind(decl.Name, c.bindingKey, topic, false, nil); err != nil {
			return "", classify.Wrap("bind queue", fmt.Errorf("queue %q to exchange %q with key %q: %w",
				decl.Name, topic, c.bindingKey, err))
		}
	}
	return decl.Name, nil
}
