package middleware

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/brokerkit/brokerkit/transport"
)

// Metadata keys DeadLetter adds to a dead-lettered message. The message's
// own ID, key, payload and metadata are kept unchanged.
const (
	// MetaDLQReason is the handler's error text, cut to 1 KiB.
	MetaDLQReason = "dlq-reason"
	// MetaDLQTopic is the topic the message was consumed from.
	MetaDLQTopic = "dlq-topic"
	// MetaDLQAttempt is Message.Attempt at the last delivery, in decimal.
	MetaDLQAttempt = "dlq-attempt"
	// MetaDLQTime is when the message was dead-lettered, RFC 3339 in UTC
	// with nanoseconds.
	MetaDLQTime = "dlq-time"
)

// DefaultDeadLetterAfter is the delivery count at which DeadLetter gives up.
const DefaultDeadLetterAfter = 5

const maxReasonLen = 1024

// DeadLetterOption configures DeadLetter.
type DeadLetterOption func(*deadLetterConfig) error

type deadLetterConfig struct {
	pub    transport.Publisher
	after  int
	topic  func(string) string
	now    func() time.Time
	isDead func(error) bool
}

// DeadLetterAfter sets the delivery count (Message.Attempt, as the backend
// counts it) from which a failing message is dead-lettered. Default 5.
func DeadLetterAfter(n int) DeadLetterOption {
	return func(c *deadLetterConfig) error {
		if n < 1 {
			return transport.Invalidf("DeadLetterAfter: %d is less than 1", n)
		}
		c.after = n
		return nil
	}
}

// DeadLetterTopic sets the dead-letter topic for a message consumed from
// topic. Default: topic + ".dlq".
func DeadLetterTopic(name func(topic string) string) DeadLetterOption {
	return func(c *deadLetterConfig) error {
		if name == nil {
			return transport.Invalidf("DeadLetterTopic: nil function")
		}
		c.topic = name
		return nil
	}
}

// DeadLetterIf sets which errors dead-letter a message at once, whatever its
// delivery count. Default: errors marked transport.Permanent.
func DeadLetterIf(pred func(error) bool) DeadLetterOption {
	return func(c *deadLetterConfig) error {
		if pred == nil {
			return transport.Invalidf("DeadLetterIf: nil predicate")
		}
		c.isDead = pred
		return nil
	}
}

func isPermanent(err error) bool { return transport.CodeOf(err) == transport.CodePermanent }

// DeadLetter moves a message that keeps failing out of the way: when the
// handler fails on the DeadLetterAfter-th delivery or later, or with an error
// DeadLetterIf accepts (by default one marked transport.Permanent), it
// publishes the message through pub to the dead-letter topic and then
// acknowledges the original by returning nil.
//
// The dead-lettered message has the original's ID, key, payload and metadata,
// plus MetaDLQReason, MetaDLQTopic, MetaDLQAttempt and MetaDLQTime. When that
// publish fails, DeadLetter returns an error joining both causes, so the
// original is not acknowledged and comes back. When the handler's context has
// ended (the subscription is closing), the error is returned as it is: a
// failure caused by shutting down is no reason to dead-letter.
//
// Backends that do not count deliveries (Attempt stays 0) dead-letter only
// on DeadLetterIf errors.
func DeadLetter(pub transport.Publisher, opts ...DeadLetterOption) (transport.Middleware, error) {
	if pub == nil {
		return nil, transport.Invalidf("DeadLetter: nil publisher")
	}
	c := deadLetterConfig{
		pub:    pub,
		after:  DefaultDeadLetterAfter,
		topic:  func(t string) string { return t + ".dlq" },
		now:    time.Now,
		isDead: isPermanent,
	}
	if err := apply(&c, opts); err != nil {
		return nil, err
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			err := next(ctx, m)
			if err == nil || ctx.Err() != nil {
				return err
			}
			if m.Attempt < c.after && !c.isDead(err) {
				return err
			}
			return c.send(ctx, m, err)
		}
	}, nil
}

func (c *deadLetterConfig) send(ctx context.Context, m *transport.Message, cause error) error {
	dead := &transport.Message{
		ID:       m.ID,
		Key:      m.Key,
		Payload:  m.Payload,
		Metadata: make(transport.Metadata, len(m.Metadata)+4),
	}
	for k, v := range m.Metadata {
		dead.Metadata[k] = v
	}
	dead.Metadata[MetaDLQReason] = truncate(cause.Error(), maxReasonLen)
	dead.Metadata[MetaDLQTopic] = m.Topic
	dead.Metadata[MetaDLQAttempt] = strconv.Itoa(m.Attempt)
	dead.Metadata[MetaDLQTime] = c.now().UTC().Format(time.RFC3339Nano)
	topic := c.topic(m.Topic)
	if err := c.pub.Publish(ctx, topic, dead); err != nil {
		return &DeadLetterError{Topic: topic, Err: err, Cause: cause}
	}
	return nil
}

// DeadLetterError is returned when a message should have been dead-lettered
// but the publish to the dead-letter topic failed; the original message is
// not acknowledged. It unwraps to the publish error, which decides whether
// trying again may help; the handler's error is kept in Cause.
type DeadLetterError struct {
	Topic string // the dead-letter topic
	Err   error  // why the publish failed
	Cause error  // why the message was being dead-lettered
}

func (e *DeadLetterError) Error() string {
	return fmt.Sprintf("middleware: dead-letter to %q failed, message not acknowledged: %v (handler error: %v)",
		e.Topic, e.Err, e.Cause)
}

func (e *DeadLetterError) Unwrap() error { return e.Err }

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
