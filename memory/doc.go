// Package memory is brokerkit's in-process backend: a broker that lives in
// the process, with the semantics of the real ones, for tests, examples and
// services that pass messages between their own parts.
//
// Import it for the "mem://" URL scheme, or create a broker directly:
//
//	b := memory.New()
//	defer b.Close()
//	b.Subscribe(ctx, "orders", handle, transport.WithGroup("billing"))
//	b.Publish(ctx, "orders", &transport.Message{Key: "customer-7", Payload: body})
//
// "mem://NAME" reaches the process-wide broker called NAME ("mem://" is the
// one without a name), so a publisher and a subscriber opened from the same
// URL talk to each other. Closing what a URL opened closes its own
// subscriptions and leaves the named broker for the others.
//
// # Delivery
//
// Publish stores a copy of each message in the queue of every group of the
// topic and of every subscription without a group, and returns once all of
// them hold it. Each group's queue is created by its first subscription and
// lives as long as the broker, so a group keeps what is published while
// none of its members is subscribed, like a durable RabbitMQ queue or a
// Kafka consumer group. A subscription without a group has a queue of its
// own that ends with it.
//
// Every queue holds at most the broker's capacity (WithCapacity), counting
// messages handed out and not yet settled; Publish waits for room until its
// context ends, so memory stays bounded and a slow consumer slows its
// publishers. Ordering, concurrency, redelivery backoff and draining come
// from driver.Serve. A failed message goes back to the front of its
// queue with Message.Attempt raised. Handlers share the stored payload
// between groups: treat Message.Payload as read-only.
//
// There is no log to replay: transport.WithStart(transport.StartOldest) is
// an error.
//
// # Optional capabilities
//
// A Broker, and what a mem:// URL opens, implement transport.Inspector
// (GroupStats: a group's queue length, messages in flight and
// subscriptions), transport.Purger (empty a group's queue) and
// transport.TopicAdmin (DeleteTopic drops a topic with its queues, ending
// the subscriptions on it).
//
// # Errors
//
// Publish and Subscribe on a closed broker return transport.ErrClosed; bad
// input (empty topic, nil message or handler, invalid option) is
// transport.ErrInvalid. A Publish cut short by its context while waiting
// for room returns the context's error: the messages before the full queue
// may have been stored, the rest were not.
//
// # URL options
//
//	mem://NAME?capacity=N   queue capacity when NAME is first opened (default 10000)
package memory
