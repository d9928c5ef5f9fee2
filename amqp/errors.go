package amqp

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// errConfirmLost fails the messages whose channel closed before the broker
// confirmed them: they may or may not have been stored.
var errConfirmLost = transport.NewError(transport.CodeNotConfirmed, "publish",
	fmt.Errorf("%w: the channel closed before the broker confirmed the message", transport.ErrNotConfirmed))

// errNotSent fails the messages of a Publish call that were not written
// yet when their channel closed: nothing of them reached the broker.
var errNotSent = transport.NewError(transport.CodeUnavailable, "publish",
	fmt.Errorf("%w: the channel closed before the message was sent", transport.ErrUnavailable))

// errNacked fails the messages the broker nacked (an internal error in the
// queue process, or a queue overflowing with x-overflow=reject-publish).
var errNacked = transport.NewError(transport.CodeNotConfirmed, "publish",
	fmt.Errorf("%w: the broker nacked the message", transport.ErrNotConfirmed))

// errUnroutable fails mandatory messages that no queue received.
func errUnroutable(r amqp.Return) error {
	return transport.NewError(transport.CodeNotConfirmed, "publish",
		fmt.Errorf("%w: unroutable: exchange %q routing key %q: %d %s",
			transport.ErrNotConfirmed, r.Exchange, r.RoutingKey, r.ReplyCode, r.ReplyText))
}

// classify is the backend's error plumbing (driver.Classifier) over codeOf.
var classify = driver.Classifier(codeOf)

func codeOf(err error) transport.Code {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.AccessRefused, amqp.NotAllowed:
			return transport.CodeUnauthorized
		case amqp.NotFound:
			return transport.CodeNotFound
		case amqp.PreconditionFailed, amqp.ContentTooLarge, amqp.SyntaxError, amqp.CommandInvalid,
			amqp.NotImplemented:
			return transport.CodeInvalid
		}
		// ErrClosed, connection-forced, resource errors, channel errors, and
		// FrameError, which amqp091-go also reports for a network read that
		// failed: a new connection or channel may succeed.
		return transport.CodeUnavailable
	}
	return transport.CodeOf(err) // network errors, sentinels, context errors
}
