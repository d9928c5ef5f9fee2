package kafka

import (
	"crypto/tls"
	"log/slog"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/brokerkit/brokerkit/transport"
)

// Option configures what a Publisher and a Subscriber share: the
// connection, TLS, SASL, client ID, logger, retries and topic creation. It
// is both a PublisherOption and a SubscriberOption.
//
// Options are typed by the role they configure, so that giving one to the
// wrong constructor does not compile: NewPublisher takes PublisherOptions,
// NewSubscriber SubscriberOptions, and each option's documentation ends
// with its role. An invalid value makes the constructor return an
// ErrInvalid error naming the option; a nil option is an ErrInvalid error
// too.
type Option interface {
	PublisherOption
	SubscriberOption
}

// PublisherOption configures a Publisher: an Option, or one of the options
// documented "Publisher" (WithRequiredAcks, WithBalancer, WithCompression,
// WithMaxMessageBytes, WithBatchBytes).
type PublisherOption interface {
	apply(*config) error
	publisherOption()
}

// SubscriberOption configures a Subscriber: an Option, or one of the options
// documented "Subscriber" (WithCommitInterval, WithHeartbeatInterval,
// WithSessionTimeout, WithRebalanceTimeout, WithFetchMaxBytes,
// WithFetchMaxWait, WithFetchLinger).
type SubscriberOption interface {
	apply(*config) error
	subscriberOption()
}

// The three implementations, one per role. The marker methods are what keep
// a publisher-only option out of NewSubscriber and the reverse.
type (
	option           func(*config) error
	publisherOption  func(*config) error
	subscriberOption func(*config) error
)

func (o option) apply(c *config) error           { return o(c) }
func (option) publisherOption()                  {}
func (option) subscriberOption()                 {}
func (o publisherOption) apply(c *config) error  { return o(c) }
func (publisherOption) publisherOption()         {}
func (o subscriberOption) apply(c *config) error { return o(c) }
func (subscriberOption) subscriberOption()       {}

// applier is any of the three option interfaces.
type applier interface{ apply(*config) error }

// role is what a config is built for. The options ParseURL returns are
// Options that apply only in the role they were meant for (see ParseURL);
// anyRole applies them all, to check them.
type role int

const (
	anyRole role = iota
	publisherRole
	subscriberRole
)

// forRole makes an option of one role an Option that the other role skips.
func forRole(r role, o applier) Option {
	return option(func(c *config) error {
		if c.role != anyRole && c.role != r {
			return nil
		}
		return o.apply(c)
	})
}

// roleOptions hands Options to a constructor that takes one role's options.
func roleOptions[O applier](opts []Option) []O {
	out := make([]O, 0, len(opts))
	for _, o := range opts {
		ro, _ := any(o).(O) // a nil Option stays nil, for newConfig to refuse
		out = append(out, ro)
	}
	return out
}

// Defaults, as documented on each option.
const (
	DefaultClientID          = "brokerkit"
	DefaultMaxMessageBytes   = 1_000_000
	DefaultBatchBytes        = 1 << 20
	DefaultMaxAttempts       = 10
	DefaultCommitInterval    = time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultSessionTimeout    = 30 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
	DefaultFetchMaxBytes     = 1 << 20
	DefaultFetchMaxWait      = 500 * time.Millisecond
	DefaultFetchLinger       = time.Millisecond

	// maxFetchMaxBytes keeps a fetch request's size within the protocol's
	// int32, with room for kafka-go's response overhead.
	maxFetchMaxBytes = 1 << 30
)

type config struct {
	role     role
	brokers  []string
	clientID string
	tls      *tls.Config
	sasl     sasl.Mechanism
	logger   *slog.Logger

	// Adopted clients; nil means brokerkit builds (and closes) its own.
	transport *kafka.Transport
	dialer    *kafka.Dialer

	// Publisher.
	acks            kafka.RequiredAcks
	balancer        kafka.Balancer
	compression     kafka.Compression
	maxMessageBytes int
	batchBytes      int
	maxAttempts     int
	create          *TopicSpec

	// Subscriber.
	commitInterval    time.Duration
	heartbeatInterval time.Duration
	sessionTimeout    time.Duration
	rebalanceTimeout  time.Duration
	fetchMaxBytes     int
	fetchMaxWait      time.Duration
	fetchLinger       time.Duration
}

// TopicSpec is how a missing topic is created (WithCreateTopics); -1 takes
// the broker's default.
type TopicSpec struct {
	Partitions        int
	ReplicationFactor int
}

func newConfig[O applier](r role, brokers []string, opts []O) (*config, error) {
	c := &config{
		role:              r,
		clientID:          DefaultClientID,
		acks:              kafka.RequireAll,
		balancer:          &kafka.Murmur2Balancer{},
		maxMessageBytes:   DefaultMaxMessageBytes,
		create:            &TopicSpec{Partitions: -1, ReplicationFactor: -1},
		batchBytes:        DefaultBatchBytes,
		maxAttempts:       DefaultMaxAttempts,
		commitInterval:    DefaultCommitInterval,
		heartbeatInterval: DefaultHeartbeatInterval,
		sessionTimeout:    DefaultSessionTimeout,
		rebalanceTimeout:  DefaultRebalanceTimeout,
		fetchMaxBytes:     DefaultFetchMaxBytes,
		fetchMaxWait:      DefaultFetchMaxWait,
		fetchLinger:       DefaultFetchLinger,
	}
	for _, b := range brokers {
		if b = strings.TrimSpace(b); b != "" {
			c.brokers = append(c.brokers, b)
		}
	}
	if len(c.brokers) == 0 {
		return nil, transport.Invalidf("kafka: no broker address given")
	}
	for _, o := range opts {
		if any(o) == nil {
			return nil, transport.Invalidf("kafka: nil option")
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	if c.batchBytes < c.maxMessageBytes {
		c.batchBytes = c.maxMessageBytes
	}
	return c, nil
}

// WithClientID sets the client ID sent to the brokers, which shows in their
// logs and quotas. Default "brokerkit". Publisher and Subscriber.
func WithClientID(id string) Option {
	return option(func(c *config) error {
		if id == "" {
			return transport.Invalidf("kafka: WithClientID: empty client ID")
		}
		c.clientID = id
		return nil
	})
}

// WithTLS connects to the brokers over TLS. Default: plain TCP. Publisher and
// Subscriber.
func WithTLS(cfg *tls.Config) Option {
	return option(func(c *config) error {
		if cfg == nil {
			return transport.Invalidf("kafka: WithTLS: nil *tls.Config")
		}
		c.tls = cfg
		return nil
	})
}

// SASL mechanism names accepted by WithSASL and the URL's sasl option.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// WithSASL authenticates with SASL: mechanism is SASLPlain, SASLScramSHA256
// or SASLScramSHA512 (case does not matter). Default: no authentication.
// Publisher and Subscriber.
func WithSASL(mechanism, user, password string) Option {
	return option(func(c *config) error {
		m, err := saslMechanism(mechanism, user, password)
		if err != nil {
			return err
		}
		c.sasl = m
		return nil
	})
}

func saslMechanism(name, user, password string) (sasl.Mechanism, error) {
	if user == "" {
		return nil, transport.Invalidf("kafka: SASL needs a user name")
	}
	switch strings.ToLower(name) {
	case SASLPlain:
		return plain.Mechanism{Username: user, Password: password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, user, password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, user, password)
	}
	return nil, transport.Invalidf("kafka: unknown SASL mechanism %q (want %s, %s or %s)",
		name, SASLPlain, SASLScramSHA256, SASLScramSHA512)
}

// WithTransport adopts an existing kafka-go Transport for produce, metadata
// and offset requests, with its TLS, SASL and dial settings; brokerkit does
// not close it. Unless WithDialer is also given, the connections a
// subscriber holds (to the group coordinator, and to the leader of each
// partition it reads) are made by a Dialer carrying the Transport's TLS,
// SASL, client ID and Dial function. Default: a Transport built from the
// options. Publisher and Subscriber.
func WithTransport(t *kafka.Transport) Option {
	return option(func(c *config) error {
		if t == nil {
			return transport.Invalidf("kafka: WithTransport: nil *kafka.Transport")
		}
		c.transport = t
		return nil
	})
}

// WithDialer adopts an existing kafka-go Dialer for the connections a
// subscriber holds: to the consumer group coordinator, and to the leader of
// each partition it reads. Unless WithTransport is also given, produce,
// metadata and offset requests use a Transport carrying the Dialer's TLS,
// SASL and client ID. Default: a Dialer built from the options. Publisher
// and Subscriber.
func WithDialer(d *kafka.Dialer) Option {
	return option(func(c *config) error {
		if d == nil {
			return transport.Invalidf("kafka: WithDialer: nil *kafka.Dialer")
		}
		c.dialer = d
		return nil
	})
}

// WithLogger logs reconnections, rebalances and commit failures. Default:
// silent. Publisher and Subscriber.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithRequiredAcks sets the acknowledgement Publish waits for:
// kafka.RequireAll (every in-sync replica), kafka.RequireOne (the leader) or
// kafka.RequireNone (nothing: Publish returns once the request is written,
// and a lost message goes unnoticed). Default kafka.RequireAll. Publisher.
func WithRequiredAcks(acks kafka.RequiredAcks) PublisherOption {
	return publisherOption(func(c *config) error {
		switch acks {
		case kafka.RequireAll, kafka.RequireOne, kafka.RequireNone:
			c.acks = acks
			return nil
		}
		return transport.Invalidf("kafka: WithRequiredAcks: unknown value %d", acks)
	})
}

// WithBalancer chooses the partition of each message. Default
// &kafka.Murmur2Balancer{}: the Java client's default partitioner for keyed
// messages (murmur2 of the key), so brokerkit, Java and librdkafka's
// murmur2_random agree on placement; messages without a key go to a random
// partition. Publisher.
func WithBalancer(b kafka.Balancer) PublisherOption {
	return publisherOption(func(c *config) error {
		if b == nil {
			return transport.Invalidf("kafka: WithBalancer: nil balancer")
		}
		c.balancer = b
		return nil
	})
}

// WithCompression compresses record batches with kafka.Gzip, kafka.Snappy,
// kafka.Lz4 or kafka.Zstd. Default: none. Publisher.
func WithCompression(codec kafka.Compression) PublisherOption {
	return publisherOption(func(c *config) error {
		switch codec {
		case 0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd:
			c.compression = codec
			return nil
		}
		return transport.Invalidf("kafka: WithCompression: unknown codec %d", codec)
	})
}

// WithMaxMessageBytes sets the largest payload Publish accepts; a larger one
// fails with ErrTooLarge before anything is sent. Keep it below the broker's
// message.max.bytes (1048588 by default), which also counts the key and
// headers. Default 1,000,000. Publisher.
func WithMaxMessageBytes(n int) PublisherOption {
	return publisherOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("kafka: WithMaxMessageBytes: %d is less than 1", n)
		}
		c.maxMessageBytes = n
		return nil
	})
}

// WithBatchBytes bounds the records sent in one produce request to one
// partition. Batches are never held back to fill up: a batch goes out as soon
// as the previous one to its partition was acknowledged, holding whatever
// arrived meanwhile. Default 1 MiB, and never less than WithMaxMessageBytes.
// Publisher.
func WithBatchBytes(n int) PublisherOption {
	return publisherOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("kafka: WithBatchBytes: %d is less than 1", n)
		}
		c.batchBytes = n
		return nil
	})
}

// WithMaxAttempts sets how many times a request is sent when the broker
// answers with a retryable error (leader moved, broker restarting, timeout),
// with a backoff from 100ms to 1s between tries: a Publisher's produce
// requests (a retried batch may be stored twice), and the metadata, offset
// and admin requests of both. Default 10. Publisher and Subscriber.
func WithMaxAttempts(n int) Option {
	return option(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("kafka: WithMaxAttempts: %d is less than 1", n)
		}
		c.maxAttempts = n
		return nil
	})
}

// WithCreateTopics sets the partition count and replication factor of the
// topics brokerkit creates; -1 takes the broker's default (num.partitions,
// default.replication.factor). Publisher and Subscriber.
//
// By default a topic that does not exist is created the first time it is
// published or subscribed to, with the broker's defaults, as Apache Kafka
// does for its own clients with auto.create.topics.enable, so that a
// program written against another backend runs unchanged (its dead-letter
// topics included). WithoutCreateTopics turns that off.
func WithCreateTopics(partitions, replicationFactor int) Option {
	return option(func(c *config) error {
		if partitions == 0 || partitions < -1 || replicationFactor == 0 || replicationFactor < -1 {
			return transport.Invalidf("kafka: WithCreateTopics: need at least 1 partition and 1 replica, or -1 for the broker's default, got %d, %d",
				partitions, replicationFactor)
		}
		c.create = &TopicSpec{Partitions: partitions, ReplicationFactor: replicationFactor}
		return nil
	})
}

// WithoutCreateTopics makes publishing or subscribing to a topic that does
// not exist an ErrNotFound error, for clusters where topics are created by
// their owners only. Default: missing topics are created (WithCreateTopics).
// Publisher and Subscriber.
func WithoutCreateTopics() Option {
	return option(func(c *config) error {
		c.create = nil
		return nil
	})
}

// WithCommitInterval sets how often a consumer group commits the offsets of
// finished messages. Offsets are also committed when a partition is revoked
// and when the subscription closes. Default 1s. Subscriber.
func WithCommitInterval(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d <= 0 {
			return transport.Invalidf("kafka: WithCommitInterval: %v is not positive", d)
		}
		c.commitInterval = d
		return nil
	})
}

// WithHeartbeatInterval sets how often a group member tells the coordinator
// it is alive; it is also how soon a member notices a rebalance. Default 3s.
// Subscriber.
func WithHeartbeatInterval(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d <= 0 {
			return transport.Invalidf("kafka: WithHeartbeatInterval: %v is not positive", d)
		}
		c.heartbeatInterval = d
		return nil
	})
}

// WithSessionTimeout sets how long the coordinator waits for a heartbeat
// before it removes a member from its group. Default 30s. Subscriber.
func WithSessionTimeout(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d <= 0 {
			return transport.Invalidf("kafka: WithSessionTimeout: %v is not positive", d)
		}
		c.sessionTimeout = d
		return nil
	})
}

// WithRebalanceTimeout sets how long the coordinator waits for members to
// rejoin during a rebalance; it also bounds how long a member waits for its
// in-flight handlers before giving up revoked partitions. Default 30s.
// Subscriber.
func WithRebalanceTimeout(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d <= 0 {
			return transport.Invalidf("kafka: WithRebalanceTimeout: %v is not positive", d)
		}
		c.rebalanceTimeout = d
		return nil
	})
}

// WithFetchMaxBytes bounds the bytes one fetch request reads from one
// partition, at most 1 GiB. Default 1 MiB. Subscriber.
func WithFetchMaxBytes(n int) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("kafka: WithFetchMaxBytes: %d is less than 1", n)
		}
		if n > maxFetchMaxBytes {
			return transport.Invalidf("kafka: WithFetchMaxBytes: %d is more than 1 GiB", n)
		}
		c.fetchMaxBytes = n
		return nil
	})
}

// WithFetchMaxWait sets how long the broker holds a fetch request open when
// a partition has no new records (it answers as soon as one arrives), at
// least 1ms: the protocol counts it in milliseconds, and a shorter wait
// would have an idle fetcher spin. Default 500ms. Subscriber.
func WithFetchMaxWait(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d < time.Millisecond {
			return transport.Invalidf("kafka: WithFetchMaxWait: %v is less than 1ms", d)
		}
		c.fetchMaxWait = d
		return nil
	})
}

// WithFetchLinger sets how long a fetch may wait on the broker for more
// records while its partition is busy: after a fetch that reached the head
// of the log with more than one record (they arrive faster than fetches go
// round), the next one asks the broker to answer once it has
// WithFetchMaxBytes or after d (at most WithFetchMaxWait), whichever comes
// first (Kafka's fetch.min.bytes and fetch.max.wait.ms, applied only under
// load). A busy partition then costs a fetch request per d instead of one
// per produce request, which frees broker and client CPU, for at most d of
// added latency; a quiet partition answers at its first record, and a
// fetch that ends behind the head of the log (a backlog) is followed by
// one that does not wait. 0 turns lingering off; otherwise d is at least
// 1ms, as the protocol counts it in milliseconds. Default 1ms. Subscriber.
func WithFetchLinger(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d < 0 || d > 0 && d < time.Millisecond {
			return transport.Invalidf("kafka: WithFetchLinger: %v is neither 0 nor at least 1ms", d)
		}
		c.fetchLinger = d
		return nil
	})
}
