package middleware

import (
	"context"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// MetaPublishedAt is the metadata key StampPublishTime writes the publish
// time to, RFC 3339 in UTC with nanoseconds, for backends that do not carry
// Message.PublishedAt, and for consumers reading what other backends wrote.
const MetaPublishedAt = "published-at"

// StampPublishTime writes the publish time into every outgoing message's
// metadata (MetaPublishedAt): Message.PublishedAt when the caller set it, the
// time of the Publish call otherwise. A value already there is replaced: a
// consumed message published again (forwarded, dead-lettered) carries its
// earlier publish time, and this publish is the one its next consumer
// measures from. The latency middleware read it back with PublishTime.
func StampPublishTime(p transport.Publisher) transport.Publisher {
	return &stampPublisher{Publisher: p}
}

type stampPublisher struct{ transport.Publisher }

func (p *stampPublisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	Stamp(time.Now(), msgs)
	return p.Publisher.Publish(ctx, topic, msgs...)
}

// Stamp writes now (or a message's own PublishedAt) into the MetaPublishedAt
// metadata of msgs; it is StampPublishTime's work, for other publisher
// middleware (tracing) to share.
func Stamp(now time.Time, msgs []*transport.Message) {
	var text string
	for _, m := range msgs {
		if m == nil {
			continue
		}
		if !m.PublishedAt.IsZero() {
			m.SetMetadata(MetaPublishedAt, m.PublishedAt.UTC().Format(time.RFC3339Nano))
			continue
		}
		if text == "" {
			text = now.UTC().Format(time.RFC3339Nano)
		}
		m.SetMetadata(MetaPublishedAt, text)
	}
}

// PublishTime returns when a delivered message was published: the most
// exact of the backend's Message.PublishedAt and the MetaPublishedAt
// metadata. A broker's time can be coarse (AMQP's timestamp property has
// whole seconds; Kafka's, milliseconds), so a stamp that falls within that
// precision of it is the same moment, told more exactly, and wins. It
// reports false when neither is there or the metadata does not parse.
func PublishTime(m *transport.Message) (time.Time, bool) {
	stamped, ok := stampOf(m)
	switch {
	case m.PublishedAt.IsZero():
		return stamped, ok
	case ok && refines(stamped, m.PublishedAt):
		return stamped, true
	}
	return m.PublishedAt, true
}

func stampOf(m *transport.Message) (time.Time, bool) {
	s := m.Metadata.Get(MetaPublishedAt)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// refines reports whether stamp is broker, told more exactly: broker is a
// whole number of seconds or milliseconds, and stamp falls within that unit
// after it.
func refines(stamp, broker time.Time) bool {
	for _, unit := range []time.Duration{time.Second, time.Millisecond} {
		if broker.Equal(broker.Truncate(unit)) {
			d := stamp.Sub(broker)
			return d >= 0 && d < unit
		}
	}
	return false
}
