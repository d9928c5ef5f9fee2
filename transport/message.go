package transport

import (
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"
)

// Message is one message, as published and as delivered.
//
// The first four fields are the caller's; the rest are set by the backend on
// delivery. A Message must not be published by two goroutines at once, since
// Publish assigns the ID of a message that has none.
type Message struct {
	// ID identifies the message end to end and across redeliveries.
	// Publish sets it when empty.
	ID string
	// Key orders and places the message: messages with the same key are
	// handled in publish order (Kafka: it picks the partition; RabbitMQ: it
	// is the routing key). It may hold any bytes; empty means no key.
	Key string
	// Payload is the body, carried byte for byte.
	Payload []byte
	// Metadata holds string headers, carried unchanged.
	Metadata Metadata

	// Topic is the topic the message was delivered from.
	Topic string
	// PublishedAt is when the message was published, as the broker or the
	// publisher stamped it.
	PublishedAt time.Time
	// Attempt counts deliveries of this message: 1 the first time.
	Attempt int

	native any
}

// Metadata is a message's string headers.
type Metadata map[string]string

// Get returns the value of key, or "" when absent; it works on nil Metadata.
func (md Metadata) Get(key string) string { return md[key] }

// SetMetadata sets a header, allocating Metadata when it is nil.
func (m *Message) SetMetadata(key, value string) {
	if m.Metadata == nil {
		m.Metadata = make(Metadata, 4)
	}
	m.Metadata[key] = value
}

// Copy returns a copy of the message with its own Metadata map and payload
// slice, and no native message.
func (m *Message) Copy() *Message {
	c := *m
	c.native = nil
	c.Payload = append([]byte(nil), m.Payload...)
	if m.Metadata != nil {
		c.Metadata = make(Metadata, len(m.Metadata))
		for k, v := range m.Metadata {
			c.Metadata[k] = v
		}
	}
	return &c
}

// As sets target, a non-nil pointer, to the backend's native message when it
// has that type, and reports whether it did. Each backend documents the types
// it offers (for example kafka.Message from kafka-go, amqp091.Delivery).
func (m *Message) As(target any) bool {
	if m == nil || m.native == nil || target == nil {
		return false
	}
	dst := reflect.ValueOf(target)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return false
	}
	src := reflect.ValueOf(m.native)
	elem := dst.Elem()
	switch {
	case src.Type().AssignableTo(elem.Type()):
		elem.Set(src)
	case src.Kind() == reflect.Pointer && src.Elem().Type().AssignableTo(elem.Type()):
		elem.Set(src.Elem())
	default:
		return false
	}
	return true
}

// idPrefix makes IDs unique across processes; the counter makes them unique
// within one, at a fraction of the cost of reading random bytes per message.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; fall back to time.
		return strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	}
	return hex.EncodeToString(b[:]) + "-"
}

// NewID returns a new message ID, unique across processes.
func NewID() string {
	var buf [48]byte
	b := append(buf[:0], idPrefix...)
	b = strconv.AppendUint(b, idCounter.Add(1), 36)
	return string(b)
}
