package amqp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// HeaderTimestampMillis carries the publish time in milliseconds, since the
// AMQP timestamp property has whole seconds. It is the header RabbitMQ's
// message_timestamp plugin sets. With WithTimestampMillis, Publish adds it
// as an integer unless the message's Metadata has an entry of that name; on
// delivery an integer value of it becomes PublishedAt and is not put in
// Metadata.
const HeaderTimestampMillis = "timestamp_in_ms"

// headerDeliveryCount is the count of earlier deliveries that quorum queues
// add on redelivery.
const headerDeliveryCount = "x-delivery-count"

// checkMessages rejects, before anything is sent, what AMQP cannot carry:
// routing keys and header names are short strings of at most 255 bytes,
// and x-delivery-count is the broker's (quorum queues overwrite it, and a
// publisher's value would read as a redelivery count).
func (c *config) checkMessages(topic string, msgs []*transport.Message) error {
	for i, m := range msgs {
		if m == nil {
			continue // driver.Prepare names it
		}
		if rk := c.routingKeyOf(topic, m); len(rk) > maxShortString {
			return transport.Invalidf("amqp: message #%d: routing key of %d bytes, the limit is %d", i, len(rk), maxShortString)
		}
		for k := range m.Metadata {
			if len(k) > maxShortString {
				return transport.Invalidf("amqp: message #%d: header name of %d bytes, the limit is %d", i, len(k), maxShortString)
			}
			if k == headerDeliveryCount {
				return transport.Invalidf("amqp: message #%d: metadata key %q is reserved: RabbitMQ sets it on redelivery", i, k)
			}
		}
	}
	return nil
}

// properties are the AMQP basic properties that well-known metadata names
// map onto (see transport.MetaContentType and the names beside it).
var properties = [...]struct {
	key string
	get func(*amqp.Delivery) string
	set func(*amqp.Publishing, string)
}{
	{transport.MetaContentType, func(d *amqp.Delivery) string { return d.ContentType },
		func(p *amqp.Publishing, v string) { p.ContentType = v }},
	{transport.MetaContentEncoding, func(d *amqp.Delivery) string { return d.ContentEncoding },
		func(p *amqp.Publishing, v string) { p.ContentEncoding = v }},
	{transport.MetaCorrelationID, func(d *amqp.Delivery) string { return d.CorrelationId },
		func(p *amqp.Publishing, v string) { p.CorrelationId = v }},
	{transport.MetaReplyTo, func(d *amqp.Delivery) string { return d.ReplyTo },
		func(p *amqp.Publishing, v string) { p.ReplyTo = v }},
	{transport.MetaType, func(d *amqp.Delivery) string { return d.Type },
		func(p *amqp.Publishing, v string) { p.Type = v }},
}

// asProperty reports whether a metadata value travels as its property: an
// empty one could not be told from an absent one, and a property holds at
// most 255 bytes. Either goes as a header of the same name instead.
func asProperty(v string) bool { return v != "" && len(v) <= maxShortString }

func (c *config) routingKeyOf(topic string, m *transport.Message) string {
	if c.routingKey != nil {
		return c.routingKey(topic, m)
	}
	return m.Key
}

// encode maps a message onto an AMQP publishing: ID in message_id, publish
// time in timestamp (seconds; and the timestamp_in_ms header with
// WithTimestampMillis), well-known metadata in their properties, the rest
// of Metadata in string headers. A message without
// Metadata has no headers table, which is dear to encode.
func (c *config) encode(m *transport.Message, now time.Time) amqp.Publishing {
	mode := amqp.Transient
	if c.persistent {
		mode = amqp.Persistent
	}
	pub := amqp.Publishing{
		DeliveryMode: mode,
		MessageId:    m.ID,
		Timestamp:    now,
		Body:         m.Payload,
	}
	inHeaders := len(m.Metadata)
	for _, p := range properties {
		if v, ok := m.Metadata[p.key]; ok && asProperty(v) {
			p.set(&pub, v)
			inHeaders--
		}
	}
	if inHeaders > 0 || c.stampMillis {
		pub.Headers = make(amqp.Table, inHeaders+1)
		for k, v := range m.Metadata {
			if !isProperty(k) || !asProperty(v) {
				pub.Headers[k] = v
			}
		}
		if _, taken := pub.Headers[HeaderTimestampMillis]; c.stampMillis && !taken {
			pub.Headers[HeaderTimestampMillis] = now.UnixMilli()
		}
	}
	return pub
}

func isProperty(key string) bool {
	for _, p := range properties {
		if p.key == key {
			return true
		}
	}
	return false
}

// decode maps a delivery onto a message of topic. Message.As reaches the
// delivery (amqp091.Delivery).
func decode(topic string, d *amqp.Delivery) *transport.Message {
	m := &transport.Message{
		ID:      d.MessageId,
		Key:     d.RoutingKey,
		Payload: d.Body,
		Topic:   topic,
		Attempt: attempt(d),
	}
	if !d.Timestamp.IsZero() {
		m.PublishedAt = d.Timestamp
	}
	for k, v := range d.Headers {
		switch k {
		case headerDeliveryCount:
			continue
		case HeaderTimestampMillis:
			if ms, ok := toInt(v); ok {
				m.PublishedAt = time.UnixMilli(ms)
				continue
			}
		}
		if s, ok := headerString(v); ok {
			m.SetMetadata(k, s)
		}
	}
	for _, p := range properties {
		if v := p.get(d); v != "" {
			m.SetMetadata(p.key, v)
		}
	}
	if m.ID == "" {
		m.ID = derivedID(d)
	}
	driver.SetNative(m, d)
	return m
}

// attempt is 1 for a first delivery. Quorum queues count deliveries in
// x-delivery-count; classic queues only say whether a message was delivered
// before, so a message redelivered there is on attempt 2 here, which the
// receiver raises when it saw the message fail more often.
func attempt(d *amqp.Delivery) int {
	if n, ok := toInt(d.Headers[headerDeliveryCount]); ok && n >= 0 {
		return int(n) + 1
	}
	if d.Redelivered {
		return 2
	}
	return 1
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case int:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	}
	return 0, false
}

// headerString turns a header written by another producer into a Metadata
// value. Strings and byte arrays are taken as they are, numbers, booleans
// and timestamps in their usual text form; tables, arrays and voids are
// left out (Message.As still reaches them).
func headerString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case time.Time:
		return x.UTC().Format(time.RFC3339), true
	case amqp.Decimal:
		return fmt.Sprintf("%dE-%d", x.Value, x.Scale), true
	}
	if n, ok := toInt(v); ok {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// derivedID gives a delivery without message_id (another producer's) an ID
// that is the same on every redelivery: "sha256-" and the first 16 bytes,
// in hex, of the SHA-256 of its exchange, routing key, timestamp and body.
// Two such messages alike in all four get the same ID.
func derivedID(d *amqp.Delivery) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{d.Exchange, d.RoutingKey} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var ts int64
	if !d.Timestamp.IsZero() {
		ts = d.Timestamp.Unix()
	}
	binary.BigEndian.PutUint64(n[:], uint64(ts))
	h.Write(n[:])
	h.Write(d.Body)
	sum := h.Sum(nil)
	return "sha256-" + hex.EncodeToString(sum[:16])
}
