// Package bridge moves messages from a topic of one broker to a topic of
// another (or of the same) broker, for services that wrap an existing stream
// and for the `brokerkit bridge` command. It needs only package transport:
// the source and destination are any Subscriber and Publisher.
//
// # Delivery
//
// At least once. A source message is acknowledged only after the destination
// confirmed its copy (Publish returned nil); when the destination refuses or
// cannot be reached, the source message is not acknowledged and the source
// delivers it again. A message can therefore reach the destination twice:
// when the bridge stops (or crashes) between the destination's confirm and
// the source's acknowledgement, or when the source itself delivers a message
// twice. WithMiddleware(dedup) with a shared store (middleware.Dedup) drops
// the second kind and, with a store that outlives the process, the first.
//
// The copy keeps the source message's ID, key, payload and metadata; the
// destination's backend carries them as it carries any message (Kafka
// headers, AMQP properties), so a bridged message keeps its identity.
//
// Closing (cancelling Run's context) stops intake, lets the forwards in
// flight finish within the subscription's drain timeout, acknowledges what
// the destination confirmed and leaves the rest to be delivered again: a
// graceful shutdown loses nothing.
//
// # Errors
//
// Run returns an ErrInvalid error for a nil subscriber or publisher, empty
// topics or a bad option, the source's Subscribe error, or the subscription's
// error if it ends by itself; it returns nil once its context ended and the
// subscription drained.
package bridge
