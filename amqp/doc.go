// Package amqp is brokerkit's RabbitMQ backend (AMQP 0-9-1), built on
// github.com/rabbitmq/amqp091-go. Importing it registers the amqp:// and
// amqps:// URL schemes (see Scheme for the options):
//
//	import _ "github.com/brokerkit/brokerkit/amqp"
//
//	pub, err := transport.OpenPublisher(ctx, "amqp://guest:guest@localhost:5672/?quorum=true")
//
// or, from Go, NewPublisher with PublisherOptions and NewSubscriber with
// SubscriberOptions; an Option (connection, TLS, exchanges...) is both, and
// an option of the other role does not compile. Services that
// already hold an *amqp091.Connection hand it over with
// NewPublisherFromConnection and NewSubscriberFromConnection; reconnecting it
// is then their business.
//
// # Mapping onto RabbitMQ
//
// A topic is a durable exchange of that name, of type "topic" by default
// (WithExchangeType). A group is a durable queue named "<topic>.<group>"
// (WithQueueName), bound to the exchange with the binding key "#"
// (WithBindingKey), so that every routing key reaches it; its members
// consume from it and share its messages. A subscription without a group
// gets an exclusive, auto-deleted, server-named queue bound the same way.
// Declarations are idempotent; options add quorum queues, a dead-letter
// exchange, a message TTL, a maximum length and any other queue argument.
// WithExistingTopology uses a service's exchanges and queues as they are.
//
// A message is a publishing: Key is the routing key (WithRoutingKey to
// choose another), Payload the body, ID the message_id property, Metadata
// the headers (string values), and the publish time the timestamp property,
// in whole seconds, and the timestamp_in_ms header in milliseconds
// (WithTimestampMillis, on by default). On delivery, Message.As reaches the
// amqp091.Delivery. A delivery without message_id (from another producer)
// gets an ID derived from it, the same on every redelivery: "sha256-" and
// the first 16 bytes, in hex, of the SHA-256 of its exchange, routing key,
// timestamp and body.
//
// # Delivery
//
// Publish returns nil once the broker confirmed every message (publisher
// confirms, on by default). The messages of one call are all written before
// their confirms are awaited, and concurrent calls write on a pool of
// channels, so many messages are in flight at once, up to WithConfirmWindow
// per channel. Messages are persistent by default. A nacked message, one
// returned as unroutable (with WithMandatory), or one whose channel closed
// before its confirm came is reported, by index, in a
// *transport.PublishError: such a message may or may not be stored, and is
// never reported as delivered. While the broker blocks publishers
// (connection.blocked, a resource alarm), Publish waits until ctx ends
// rather than buffering.
//
// Subscribe returns once the consumer is registered (basic.consume-ok).
// Delivery is at least once: messages are acked (basic.ack) after their
// handler returns nil; a handler error nacks the message with requeue after
// the dispatcher's backoff. The broker hands out at most the prefetch
// (transport.WithPrefetch, basic.qos) of unacked messages. Message.Attempt
// comes from the x-delivery-count header of quorum queues, and is exact.
// Classic queues only flag a redelivery: there Attempt is one more than the
// failures the same subscription saw for that message ID, and 2 for a
// message redelivered to another one.
// Closing a subscription cancels the consumer, lets the handlers in flight
// finish, acks those that succeeded, and closes the channel, which returns
// every other delivery to the queue.
//
// A lost connection or channel is re-established with backoff
// (WithReconnectBackoff): publishers redial on the next Publish,
// subscriptions redeclare their topology and consume again by themselves.
// Deliveries of a lost channel cannot be acked any more; settling them is a
// no-op and the broker delivers them again, so a handler may see a message
// twice. A subscription without a group misses what is published while it
// is reconnecting.
//
// # Clusters
//
// A URL may name several nodes, amqp://user:pass@h1:5672,h2:5672,h3:5672/vh
// (or WithAddresses; WithShuffledAddresses spreads clients over the nodes).
// A connection goes to the first node that answers; when it is lost, the
// next connection starts with the node after the lost one, so a dead node
// costs one failed dial at most. Publishes in flight on the lost connection
// fail as with one node (ErrNotConfirmed: they may or may not be stored);
// subscriptions resume on the node they reach. With quorum queues
// (WithQuorumQueues) a group's queue survives the loss of a minority of
// nodes; a classic queue lives on one node and is unavailable while that
// node is down. See docs/clusters.md.
//
// # Errors
//
// Errors are classified with transport.CodeOf: refused credentials or
// permissions are ErrUnauthorized; a missing exchange or queue (with
// WithExistingTopology) is ErrNotFound; a declaration that conflicts with
// an existing one (PRECONDITION_FAILED) is ErrInvalid; a broker that cannot
// be reached is ErrUnavailable, retried with backoff until the context
// ends, when the error matches both the context error and the last broker
// error; with several addresses it names each address tried and its error. amqp091-go's *amqp091.Error stays reachable with errors.As. No
// error or log line contains a password: URLs are printed redacted.
package amqp
