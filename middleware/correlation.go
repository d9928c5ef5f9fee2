package middleware

import (
	"context"

	"github.com/brokerkit/brokerkit/transport"
)

// MetaCorrelationID is the metadata key that carries a correlation ID from a
// consumed message to the messages its handler publishes: the well-known
// name, which the amqp backend maps onto the correlation_id property, so
// that a conversation started by another client carries on.
const MetaCorrelationID = transport.MetaCorrelationID

type correlationKey struct{}

// WithCorrelationID returns ctx carrying id, for CorrelatePublisher to stamp
// on outgoing messages.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationIDFrom returns the correlation ID ctx carries, or "".
func CorrelationIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// CorrelationID puts the consumed message's correlation ID into the
// handler's context (see CorrelationIDFrom). A message that has none starts a
// new conversation: its own ID becomes the correlation ID.
//
// Pair it with CorrelatePublisher on the publisher the handler uses, and the
// ID flows on from message to message.
func CorrelationID(next transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		id := m.Metadata.Get(MetaCorrelationID)
		if id == "" {
			id = m.ID
		}
		if id == "" {
			return next(ctx, m)
		}
		return next(WithCorrelationID(ctx, id), m)
	}
}

// CorrelatePublisher stamps the correlation ID of the publish context on
// every outgoing message that has none of its own. Messages published
// outside a handler (no ID in the context) are left alone.
func CorrelatePublisher(p transport.Publisher) transport.Publisher {
	return &correlatePublisher{Publisher: p}
}

type correlatePublisher struct{ transport.Publisher }

func (p *correlatePublisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if id := CorrelationIDFrom(ctx); id != "" {
		for _, m := range msgs {
			if m != nil && m.Metadata.Get(MetaCorrelationID) == "" {
				m.SetMetadata(MetaCorrelationID, id)
			}
		}
	}
	return p.Publisher.Publish(ctx, topic, msgs...)
}
