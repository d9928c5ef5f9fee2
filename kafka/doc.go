// Package kafka is brokerkit's Kafka backend, built on
// github.com/segmentio/kafka-go. Importing it registers the kafka:// URL
// scheme (see Scheme for the options):
//
//	import _ "github.com/brokerkit/brokerkit/kafka"
//
//	pub, err := transport.OpenPublisher(ctx, "kafka://broker1:9092,broker2:9092?acks=all")
//
// or, from Go, NewPublisher with PublisherOptions and NewSubscriber with
// SubscriberOptions; an Option (connection, TLS, SASL...) is both, and an
// option of the other role does not compile. Services that
// already hold a kafka-go Transport or Dialer hand it over with WithTransport
// and WithDialer.
//
// # Mapping onto Kafka
//
// A topic is a Kafka topic. A message is a record: Key is the record key,
// which chooses the partition (murmur2, as the Java client's default
// partitioner); Payload is the value; the ID travels in the HeaderID record
// header and each Metadata entry in a header of its own; the publish time is
// the record timestamp. A group is a Kafka consumer group. A subscription
// without a group reads every partition of the topic, from the newest offset
// (transport.WithStart(transport.StartOldest) for the oldest), and commits
// nothing.
//
// On delivery, Message.As reaches the kafka-go kafka.Message (value type),
// with the record's Partition, Offset, HighWaterMark and raw Headers.
//
// # Delivery
//
// Publish returns nil once the brokers acknowledged every message: by
// default once every in-sync replica has it (WithRequiredAcks for less).
// Concurrent Publish calls are batched per partition without any timer: one
// produce request per partition is in flight, and the next carries all that
// arrived meanwhile. A batch that fails with a retryable error is sent again
// (WithMaxAttempts), so a message may be stored twice; a batch that fails for
// good fails each of its messages, reported by index in a
// *transport.PublishError.
//
// Subscribe returns once the subscription is live. A group's first member
// resolves the newest (or oldest) offset of partitions the group never
// committed and commits it at once, so that from then on the group keeps
// what is published while no member runs.
//
// Delivery is at least once. A handler returning nil finishes its message;
// finished offsets are committed every WithCommitInterval, on a rebalance
// and on close, and only up to the first unfinished message of each
// partition, so a crash never skips a message that was not finished (and
// the finished ones after it are delivered again). A handler error retries
// the message in place, after the dispatcher's backoff, with Attempt raised;
// the commit point waits for it while other partitions and other keys go
// on. On a rebalance a member stops handing out the revoked partitions'
// messages, drops those it buffered, waits (up to WithRebalanceTimeout) for
// its handlers on them, commits, and only then rejoins: a partition's next
// owner never handles a message the previous one is still handling.
//
// A subscription reads each of its partitions over a connection of its own
// to the partition's leader, as kafka-go's Reader does, and decodes fetch
// responses (at most WithFetchMaxBytes each) as they stream in, handing
// them to the handlers in chunks of up to 256 messages while it reads on.
// So a partition holds at most two decoded chunks ahead of its handlers;
// transport.WithPrefetch does not apply. While a partition's fetches keep
// finding several new records at the head of its log, each fetch lets the
// broker gather more for up to WithFetchLinger (1ms), so a busy partition
// costs a fetch request per linger rather than one per produce request; a
// quiet partition answers at its first record. A partition whose commit
// point a failing message holds back stops fetching once 4096 messages
// after it are unfinished.
//
// Limits: a retried message is handled again after the later messages of
// its key that the dispatcher had already taken (at most one per worker);
// partitions added to a topic are not picked up by subscriptions without a
// group; after a broker outage kafka-go joins the group as a new member, so
// the group waits out the old member's session timeout.
//
// # Errors
//
// Errors are classified with transport.CodeOf: an unknown topic is
// ErrNotFound (unless WithCreateTopics, or a broker with
// auto.create.topics.enable, creates it); refused credentials and ACLs are
// ErrUnauthorized; a record the broker finds too large is ErrTooLarge; a
// broker that cannot be reached is ErrUnavailable, retried with backoff
// until the context ends, when the error matches both the context error and
// the last broker error. kafka-go's own errors (kafka.Error, network errors)
// stay reachable with errors.As. No error contains a password: URLs are
// printed redacted, and SASL credentials are never logged.
package kafka
