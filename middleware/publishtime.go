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

// PublishTime returns when a delivered message was published: the backend's
// Message.PublishedAt when it set one, else the MetaPublishedAt metadata.
// It reports false when neither is there or the metadata does not parse.
func PublishTime(m *transport.Message) (time.Time, bool) {
	if !m.PublishedAt.IsZero() {
		return m.PublishedAt, true
	}
	s := m.Metadata.Get(MetaPublishedAt)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
