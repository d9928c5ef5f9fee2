package amqp

import (
	"crypto/tls"
	"log/slog"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
)

// Option configures what a Publisher and a Subscriber share: the
// connection, TLS, logger, exchanges and queue names. It is both a
// PublisherOption and a SubscriberOption.
//
// Options are typed by the role they configure, so that giving one to the
// wrong constructor does not compile: NewPublisher and
// NewPublisherFromConnection take PublisherOptions, NewSubscriber and
// NewSubscriberFromConnection SubscriberOptions, and each option's
// documentation ends with its role. An invalid value makes the constructor
// return an ErrInvalid error naming the option; a nil option is an
// ErrInvalid error too.
type Option interface {
	PublisherOption
	SubscriberOption
}

// PublisherOption configures a Publisher: an Option, or one of the options
// documented "Publisher" (WithRoutingKey, WithConfirms, WithMandatory,
// WithTimestampMillis, WithPersistent, WithChannels, WithConfirmWindow,
// WithMaxPayload).
type PublisherOption interface {
	apply(*config) error
	publisherOption()
}

// SubscriberOption configures a Subscriber: an Option, or one of the
// options documented "Subscriber" (WithBindingKey, WithQuorumQueues,
// WithDeadLetterExchange, WithMessageTTL, WithMaxLength, WithQueueArgs,
// WithDefaultPrefetch).
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
	DefaultExchangeType      = "topic"
	DefaultBindingKey        = "#"
	DefaultConnectionName    = "brokerkit"
	DefaultChannels          = 8
	DefaultConfirmWindow     = 1024
	DefaultMaxPayload        = 16 << 20
	DefaultPrefetch          = 256
	DefaultReconnectMin      = 100 * time.Millisecond
	DefaultReconnectMax      = 5 * time.Second
	DefaultConnectionTimeout = 30 * time.Second
)

// maxShortString is AMQP's limit on names and routing keys (shortstr).
const maxShortString = 255

type config struct {
	role           role
	targets        []target // the broker addresses, in the order they are tried
	shuffle        bool     // each connector tries targets in its own random order
	addrs          []string // WithAddresses: replaces the URL's hosts
	redacted       string   // the broker URL, password replaced, for messages
	connectTimeout time.Duration
	tls            *tls.Config
	logger         *slog.Logger
	connName       string
	adopted        *amqp.Connection

	reconnectMin, reconnectMax time.Duration

	// Topology.
	exchangeType string
	existing     bool
	queueName    func(topic, group string) string
	bindingKey   string
	routingKey   func(topic string, m *transport.Message) string
	quorum       bool
	deadLetterEx string
	deadLetterRK *string
	messageTTL   time.Duration
	maxLength    int
	queueArgs    amqp.Table

	// Publisher.
	confirms    bool
	mandatory   bool
	stampMillis bool
	persistent  bool
	channels    int
	window      int
	maxPayload  int

	// Subscriber.
	prefetch int
}

func newConfig[O applier](r role, opts []O) (*config, error) {
	c := &config{
		role:           r,
		logger:         slog.New(slog.DiscardHandler),
		connName:       DefaultConnectionName,
		connectTimeout: DefaultConnectionTimeout,
		reconnectMin:   DefaultReconnectMin,
		reconnectMax:   DefaultReconnectMax,
		exchangeType:   DefaultExchangeType,
		queueName:      DefaultQueueName,
		bindingKey:     DefaultBindingKey,
		confirms:       true,
		persistent:     true,
		channels:       DefaultChannels,
		window:         DefaultConfirmWindow,
		maxPayload:     DefaultMaxPayload,
		prefetch:       DefaultPrefetch,
		stampMillis:    true,
	}
	for _, o := range opts {
		if any(o) == nil {
			return nil, transport.Invalidf("amqp: nil option")
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	if c.mandatory && !c.confirms {
		return nil, transport.Invalidf("amqp: WithMandatory needs publisher confirms (WithConfirms(false) was given)")
	}
	if c.adopted != nil && c.tls != nil {
		return nil, transport.Invalidf("amqp: WithTLS has no effect on an adopted connection")
	}
	return c, nil
}

// DefaultQueueName names a group's queue "<topic>.<group>". A subscription
// without a group gets "" here: a server-named ("amq.gen-..."), exclusive,
// auto-deleted queue.
func DefaultQueueName(topic, group string) string {
	if group == "" {
		return ""
	}
	return topic + "." + group
}

// WithTLS sets the TLS configuration for amqps:// URLs (and turns TLS on for
// an amqp:// URL). It is cloned before use; an empty ServerName is set to
// the URL's host. Default: for amqps://, the system roots and RabbitMQ's URI
// parameters cacertfile, certfile, keyfile, server_name_indication.
// Publisher and Subscriber.
func WithTLS(cfg *tls.Config) Option {
	return option(func(c *config) error {
		if cfg == nil {
			return transport.Invalidf("amqp: WithTLS: nil *tls.Config")
		}
		c.tls = cfg
		return nil
	})
}

// WithLogger logs reconnections and dropped settlements. Default: silent.
// Publisher and Subscriber.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) error {
		if l == nil {
			return transport.Invalidf("amqp: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithConnectionName sets the connection_name client property, which the
// management UI and rabbitmqctl list_connections show. Default "brokerkit".
// Publisher and Subscriber.
func WithConnectionName(name string) Option {
	return option(func(c *config) error {
		c.connName = name
		return nil
	})
}

// WithAddresses sets the brokers' addresses, "host:port" or "host" (with
// the scheme's default port, 5672 or 5671), replacing the host list of the
// URL, whose user, password, vhost and parameters apply to each. The nodes
// of one cluster are listed so: a connection goes to the first address that
// answers, and when it is lost, the next connection starts with the address
// after the lost one. Use it rather than the URL for IPv6 addresses, which
// a URL cannot list. Default: the URL's hosts,
// "amqp://user:pass@h1:5672,h2:5672,h3:5672/vhost". Publisher and
// Subscriber.
func WithAddresses(addrs ...string) Option {
	return option(func(c *config) error {
		if len(addrs) == 0 {
			return transport.Invalidf("amqp: WithAddresses: no address")
		}
		for _, a := range addrs {
			if err := checkAddress(a); err != nil {
				return transport.Invalidf("amqp: WithAddresses: %v", err)
			}
		}
		c.addrs = slices.Clone(addrs)
		return nil
	})
}

// WithShuffledAddresses makes each Publisher and Subscriber try the
// addresses (WithAddresses, or the URL's hosts) in a random order of its
// own, so that the connections of many processes spread over a cluster's
// nodes rather than all landing on the first. URL: shuffle=true. Default
// off: in the order given. Publisher and Subscriber.
func WithShuffledAddresses(on bool) Option {
	return option(func(c *config) error {
		c.shuffle = on
		return nil
	})
}

// WithReconnectBackoff bounds the wait between attempts to re-establish a
// lost connection or channel: min, doubled per failed attempt, capped at
// max. Default 100ms to 5s. Publisher and Subscriber.
func WithReconnectBackoff(min, max time.Duration) Option {
	return option(func(c *config) error {
		if min <= 0 || max < min {
			return transport.Invalidf("amqp: WithReconnectBackoff: need 0 < min <= max, got %v, %v", min, max)
		}
		c.reconnectMin, c.reconnectMax = min, max
		return nil
	})
}

// WithExchangeType sets the type of the exchanges declared for topics:
// "topic", "direct", "fanout", "headers", or a plugin's "x-..." type.
// Default "topic". With "direct", set WithBindingKey too, since "#" means
// nothing special there. Publisher and Subscriber.
func WithExchangeType(kind string) Option {
	return option(func(c *config) error {
		switch kind {
		case amqp.ExchangeTopic, amqp.ExchangeDirect, amqp.ExchangeFanout, amqp.ExchangeHeaders:
		default:
			if !strings.HasPrefix(kind, "x-") {
				return transport.Invalidf("amqp: WithExchangeType: unknown type %q (want topic, direct, fanout, headers or x-...)", kind)
			}
		}
		c.exchangeType = kind
		return nil
	})
}

// WithExistingTopology uses the broker's exchanges and queues as they are,
// for services whose topology already exists: exchanges and group queues are
// declared passively (a missing one is an ErrNotFound error) and group
// queues are not bound, so their bindings stay as the owner set them.
// Subscriptions without a group still get their own exclusive queue, bound
// with WithBindingKey. Default: exchanges, queues and bindings are declared
// (idempotently). Publisher and Subscriber.
func WithExistingTopology() Option {
	return option(func(c *config) error {
		c.existing = true
		return nil
	})
}

// WithQueueName sets the naming scheme of queues: name(topic, group) for a
// group's queue, and name(topic, "") for a subscription without a group,
// where "" asks for a server-named queue. Default DefaultQueueName:
// "<topic>.<group>". Publisher and Subscriber: a Publisher's GroupStats
// and Purge find group queues by it.
func WithQueueName(name func(topic, group string) string) Option {
	return option(func(c *config) error {
		if name == nil {
			return transport.Invalidf("amqp: WithQueueName: nil function")
		}
		c.queueName = name
		return nil
	})
}

// WithBindingKey sets the binding key queues are bound to their topic's
// exchange with. Default "#": every routing key reaches the queue of a topic
// exchange. Subscriber.
func WithBindingKey(key string) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if len(key) > maxShortString {
			return transport.Invalidf("amqp: WithBindingKey: %d bytes, the limit is %d", len(key), maxShortString)
		}
		c.bindingKey = key
		return nil
	})
}

// WithRoutingKey sets how a message's routing key is chosen. Default: its
// Key ("" for a message without one). Publisher.
func WithRoutingKey(key func(topic string, m *transport.Message) string) PublisherOption {
	return publisherOption(func(c *config) error {
		if key == nil {
			return transport.Invalidf("amqp: WithRoutingKey: nil function")
		}
		c.routingKey = key
		return nil
	})
}

// WithQuorumQueues declares group queues as quorum queues (x-queue-type
// quorum): replicated, and with a delivery count, so Message.Attempt is
// exact. Queues of subscriptions without a group stay classic, since a
// quorum queue cannot be exclusive. Default: classic queues. Subscriber.
func WithQuorumQueues() SubscriberOption {
	return subscriberOption(func(c *config) error {
		c.quorum = true
		return nil
	})
}

// WithDeadLetterExchange sets x-dead-letter-exchange on group queues, so that
// messages that expire or overflow go to that exchange; routingKey, when
// not empty, replaces their routing key (x-dead-letter-routing-key).
// Default: none. Subscriber.
func WithDeadLetterExchange(exchange, routingKey string) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if len(exchange) > maxShortString || len(routingKey) > maxShortString {
			return transport.Invalidf("amqp: WithDeadLetterExchange: names are limited to %d bytes", maxShortString)
		}
		c.deadLetterEx = exchange
		c.deadLetterRK = nil
		if routingKey != "" {
			c.deadLetterRK = &routingKey
		}
		return nil
	})
}

// WithMessageTTL sets x-message-ttl on group queues: messages older than d
// are dropped, or dead-lettered. Millisecond resolution. Default: none.
// Subscriber.
func WithMessageTTL(d time.Duration) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if d < time.Millisecond {
			return transport.Invalidf("amqp: WithMessageTTL: %v is less than 1ms", d)
		}
		c.messageTTL = d
		return nil
	})
}

// WithMaxLength sets x-max-length on group queues: past n ready messages the
// oldest are dropped, or dead-lettered. Default: none. Subscriber.
func WithMaxLength(n int) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("amqp: WithMaxLength: %d is less than 1", n)
		}
		c.maxLength = n
		return nil
	})
}

// WithQueueArgs adds arguments to the declaration of group queues (for
// example "x-max-priority" or "x-queue-mode"); they override those set by
// the options above. Default: none. Subscriber.
func WithQueueArgs(args amqp.Table) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if err := args.Validate(); err != nil {
			return transport.Invalidf("amqp: WithQueueArgs: %v", err)
		}
		c.queueArgs = args
		return nil
	})
}

// WithConfirms turns publisher confirms on or off. Off, Publish returns once
// the messages are written to the socket: faster, and a message the broker
// loses goes unnoticed. Default on. Publisher.
func WithConfirms(on bool) PublisherOption {
	return publisherOption(func(c *config) error {
		c.confirms = on
		return nil
	})
}

// WithMandatory publishes with the mandatory flag: a message that no queue
// receives is returned by the broker, and Publish reports it as not
// confirmed (ErrNotConfirmed, "unroutable"). It needs publisher confirms.
// Default off: an unroutable message is confirmed and dropped by the
// broker. Publisher.
func WithMandatory(on bool) PublisherOption {
	return publisherOption(func(c *config) error {
		c.mandatory = on
		return nil
	})
}

// WithTimestampMillis adds the publish time in milliseconds to every
// message, in the timestamp_in_ms header (HeaderTimestampMillis), so that
// Message.PublishedAt has milliseconds rather than the whole seconds of the
// AMQP timestamp property, and latencies measured from it are right. It
// costs a headers table on every message, which amqp091-go and the broker
// pay for; turn it off where nobody measures. Default on. Publisher.
func WithTimestampMillis(on bool) PublisherOption {
	return publisherOption(func(c *config) error {
		c.stampMillis = on
		return nil
	})
}

// WithPersistent sets the delivery mode: persistent messages are written to
// disk by durable queues and survive a broker restart. Default on. Publisher.
func WithPersistent(on bool) PublisherOption {
	return publisherOption(func(c *config) error {
		c.persistent = on
		return nil
	})
}

// WithChannels sets how many AMQP channels a Publisher publishes on, so that
// concurrent Publish calls write at the same time. Default 8. Publisher.
func WithChannels(n int) PublisherOption {
	return publisherOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("amqp: WithChannels: %d is less than 1", n)
		}
		c.channels = n
		return nil
	})
}

// WithConfirmWindow bounds the messages published on one channel and not
// yet confirmed; a Publish call waits for room. Default 1024. Publisher.
func WithConfirmWindow(n int) PublisherOption {
	return publisherOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("amqp: WithConfirmWindow: %d is less than 1", n)
		}
		c.window = n
		return nil
	})
}

// WithMaxPayload sets the largest payload Publish accepts; a larger one fails
// with ErrTooLarge before anything is sent. Keep it at or below the broker's
// max_message_size (128 MiB on RabbitMQ 3.x, 16 MiB from 4.0). Default
// 16 MiB. Publisher.
func WithMaxPayload(n int) PublisherOption {
	return publisherOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("amqp: WithMaxPayload: %d is less than 1", n)
		}
		c.maxPayload = n
		return nil
	})
}

// WithDefaultPrefetch sets the prefetch (basic.qos) of subscriptions that do
// not set transport.WithPrefetch. Default DefaultPrefetch, 256: a round trip
// to the broker per few messages starves the handlers (consume ran at
// 0.49-0.96x raw amqp091-go with prefetch 8, 1.05-1.64x with 256; RabbitMQ
// advises 100 to 300). Memory stays bounded by it. Subscriber.
func WithDefaultPrefetch(n int) SubscriberOption {
	return subscriberOption(func(c *config) error {
		if n < 1 {
			return transport.Invalidf("amqp: WithDefaultPrefetch: %d is less than 1", n)
		}
		c.prefetch = n
		return nil
	})
}
