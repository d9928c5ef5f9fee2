// Package transport is the portable API of brokerkit: the message, the
// Publisher and Subscriber interfaces every backend implements, the handler
// and middleware types, options, error codes and the URL registry.
//
// It imports only the standard library. Backends (brokerkit's memory, kafka
// and amqp packages, or a third party's) do the I/O; the machinery they
// share (concurrency, per-key ordering, panic recovery, redelivery backoff,
// draining on close) is in package transport/driver.
//
// # Using it
//
// Open a backend by URL, after importing it for its side effect of
// registering its scheme (as database/sql drivers do):
//
//	import _ "github.com/brokerkit/brokerkit/memory"
//
//	pub, err := transport.OpenPublisher(ctx, "mem://") // transport.WithLogger(l) to see reconnects
//	sub, err := transport.OpenSubscriber(ctx, "mem://")
//	s, err := sub.Subscribe(ctx, "orders", handle, transport.WithGroup("billing"))
//	err = pub.Publish(ctx, "orders", &transport.Message{Key: "customer-7", Payload: body})
//
// # Delivery
//
// Publish returns nil only once the broker has taken every message; otherwise
// a *PublishError says which ones were not confirmed. A message gets an ID at
// publish when it has none, and keeps it end to end and across redeliveries.
//
// Subscribe returns once the subscription is live: a message published after
// it returned is delivered to it. Subscribers sharing a group share its
// messages; every group gets every message; a subscription without a group
// sees what is published while it lives.
//
// A handler returning nil acknowledges the message. A handler error, or a
// panic, means "not processed": after a backoff that grows with the attempt
// number the message is returned to the backend and delivered again, with
// Message.Attempt raised. Messages with the same key are handled one at a
// time in publish order, at any concurrency, because work is sharded by key.
// A redelivered message may come after later messages of its key on backends
// that requeue (RabbitMQ, memory); the Kafka backend retries in place.
//
// The context given to Subscribe bounds setting the subscription up, as
// net.Dialer's bounds a dial; the subscription then runs until it is
// closed, or until a context given with WithLifetime ends. Closing it stops
// intake, handles what was already taken from the broker within the drain
// timeout, acks what finished and returns the rest for redelivery. Every Close is
// idempotent. A call given a context that has already ended returns that
// context's error and sends nothing.
//
// What differs between brokers (replay with StartOldest, how exact
// Message.Attempt is, name rules, payload limits) is listed in one table in
// docs/portability.md.
//
// # Errors
//
// Sentinel errors (ErrClosed, ErrInvalid, ...) are matched with errors.Is.
// Code classifies any error, and Retryable says whether trying again may
// help. Backends wrap native client errors with NewError, so they stay
// reachable with errors.As. Context errors are returned unwrapped. No error
// contains a password: URLs are printed with Redact.
//
// # Optional capabilities
//
// Backends may offer more than Publisher and Subscriber through small
// interfaces found by type assertion; Message.As reaches the backend's native
// message on delivery. The ones brokerkit's backends offer, on their
// publishers and subscribers (and on a memory Broker):
//
//   - Inspector: the backlog of a group (queue depth on RabbitMQ and memory,
//     consumer lag per partition on Kafka). Stats calls it.
//   - Purger: drop a group's backlog. Purge calls it.
//   - TopicAdmin: create and delete topics with their settings (Kafka
//     partitions and replication, RabbitMQ exchange type). CreateTopic and
//     DeleteTopic call it.
//
// The helper functions return an ErrUnsupported error, which also matches
// errors.ErrUnsupported, when the value given lacks the capability, so that
// callers need no type assertion of their own:
//
//	st, err := transport.Stats(ctx, sub, "orders", "billing")
//	fmt.Println(st.Backlog, st.Consumers)
//
// # Writing a backend
//
// Backends are written against package transport/driver, which holds the
// contract and the shared machinery (the dispatcher, validation, error
// plumbing); docs/backends/writing.md walks through a complete one. Register
// makes a backend reachable by URL.
package transport
