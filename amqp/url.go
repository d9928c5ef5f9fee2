package amqp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// The URL schemes this package registers:
//
//	amqp://user:pass@host:5672/vhost?exchange_type=topic&quorum=true
//	amqps://user:pass@host:5671/vhost?cacertfile=/etc/ca.pem
//	amqp://user:pass@h1:5672,h2:5672,h3:5672/vhost
//
// The path is the vhost ("/" is the default vhost; "/%2f" also names it).
// Several hosts, separated by commas, name the nodes of a cluster, as
// WithAddresses does: a connection goes to the first that answers, and
// after a lost connection the next one starts with the following host.
// Query options (unknown ones are an error), each the same as the option
// named after it. One URL serves both ends: an option of the other role
// (confirms for a Subscriber) is checked, then not applied (see ParseURL).
//
//	exchange_type=topic|direct|fanout|headers|x-...   WithExchangeType
//	existing=true                      WithExistingTopology
//	binding_key=KEY                    WithBindingKey
//	quorum=true                        WithQuorumQueues
//	dead_letter_exchange=NAME          WithDeadLetterExchange, with
//	dead_letter_routing_key=KEY        its routing key (optional)
//	message_ttl=DURATION               WithMessageTTL (Go duration: 30s, 10m)
//	max_length=N                       WithMaxLength
//	confirms=false                     WithConfirms
//	mandatory=true                     WithMandatory
//	persistent=false                   WithPersistent
//	timestamp_ms=false                 WithTimestampMillis (default true)
//	channels=N                         WithChannels
//	confirm_window=N                   WithConfirmWindow
//	max_payload=N                      WithMaxPayload
//	prefetch=N                         WithDefaultPrefetch
//	connection_name=NAME               WithConnectionName
//	reconnect_min=DURATION             WithReconnectBackoff, with
//	reconnect_max=DURATION             (either may be left out)
//	shuffle=true                       WithShuffledAddresses
//
// RabbitMQ's own URI parameters are passed to amqp091-go as they are:
// heartbeat (seconds), connection_timeout (milliseconds), channel_max,
// auth_mechanism, and for amqps:// cacertfile, certfile, keyfile and
// server_name_indication (ignored when WithTLS is given).
const (
	Scheme    = "amqp"
	SchemeTLS = "amqps"
)

// passThrough are RabbitMQ's URI query parameters, which amqp091-go reads.
var passThrough = []string{"heartbeat", "connection_timeout", "channel_max", "auth_mechanism",
	"cacertfile", "certfile", "keyfile", "server_name_indication"}

func init() {
	transport.Register(Scheme, opener{})
	transport.Register(SchemeTLS, opener{})
}

type opener struct{}

func (opener) OpenPublisher(_ context.Context, u *url.URL, o transport.OpenConfig) (transport.Publisher, error) {
	dial, opts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return newPublisher(dial, roleOptions[PublisherOption](withOpenConfig(opts, o)))
}

func (opener) OpenSubscriber(_ context.Context, u *url.URL, o transport.OpenConfig) (transport.Subscriber, error) {
	dial, opts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return newSubscriber(dial, roleOptions[SubscriberOption](withOpenConfig(opts, o)))
}

func withOpenConfig(opts []Option, o transport.OpenConfig) []Option {
	if o.Logger != nil {
		opts = append(opts, WithLogger(o.Logger))
	}
	return opts
}

// ParseURL reads an amqp:// or amqps:// URL into the URL amqp091-go dials
// (without brokerkit's options) and the options its query string sets.
// Errors name the problem and show the URL with its password redacted.
//
// The options serve either role, so that one URL can configure both ends,
// as transport.OpenPublisher and transport.OpenSubscriber do: each is the
// option named in Scheme's list, and one meant for the other role
// (confirms= for a Subscriber, quorum= for a Publisher) is checked here,
// then not applied to this role rather than refused.
func ParseURL(u *url.URL) (*url.URL, []Option, error) {
	fail := func(format string, args ...any) error {
		return transport.Invalidf("amqp: URL %s: "+format, append([]any{u.Redacted()}, args...)...)
	}
	if u.Scheme != Scheme && u.Scheme != SchemeTLS {
		return nil, nil, fail("scheme is %q, want %q or %q", u.Scheme, Scheme, SchemeTLS)
	}
	if u.Opaque != "" {
		return nil, nil, fail("want %s://host..., with two slashes", u.Scheme)
	}

	q := driver.NewQuery(u)
	var opts []Option
	add := func(o Option) { opts = append(opts, o) }
	addPub := func(o PublisherOption) { add(forRole(publisherRole, o)) }
	addSub := func(o SubscriberOption) { add(forRole(subscriberRole, o)) }

	if s := q.String("exchange_type", ""); s != "" {
		add(WithExchangeType(s))
	}
	if q.Bool("existing", false) {
		add(WithExistingTopology())
	}
	if q.Has("binding_key") {
		addSub(WithBindingKey(q.String("binding_key", "")))
	}
	if q.Bool("quorum", false) {
		addSub(WithQuorumQueues())
	}
	if dlx := q.String("dead_letter_exchange", ""); dlx != "" {
		addSub(WithDeadLetterExchange(dlx, q.String("dead_letter_routing_key", "")))
	} else if q.Has("dead_letter_routing_key") {
		q.Fail("dead_letter_routing_key needs dead_letter_exchange")
	}
	if q.Has("message_ttl") {
		addSub(WithMessageTTL(q.Duration("message_ttl", 0)))
	}
	for _, b := range []struct {
		key string
		def bool
		opt func(bool) PublisherOption
	}{
		{"confirms", true, WithConfirms},
		{"mandatory", false, WithMandatory},
		{"persistent", true, WithPersistent},
		{"timestamp_ms", true, WithTimestampMillis},
	} {
		if q.Has(b.key) {
			addPub(b.opt(q.Bool(b.key, b.def)))
		}
	}
	for _, o := range []struct {
		key string
		opt func(int) PublisherOption
	}{
		{"channels", WithChannels},
		{"confirm_window", WithConfirmWindow},
		{"max_payload", WithMaxPayload},
	} {
		if q.Has(o.key) {
			addPub(o.opt(q.Int(o.key, 0)))
		}
	}
	for _, o := range []struct {
		key string
		opt func(int) SubscriberOption
	}{
		{"max_length", WithMaxLength},
		{"prefetch", WithDefaultPrefetch},
	} {
		if q.Has(o.key) {
			addSub(o.opt(q.Int(o.key, 0)))
		}
	}
	if q.Has("connection_name") {
		add(WithConnectionName(q.String("connection_name", "")))
	}
	if q.Has("shuffle") {
		add(WithShuffledAddresses(q.Bool("shuffle", false)))
	}
	if q.Has("reconnect_min") || q.Has("reconnect_max") {
		add(WithReconnectBackoff(q.Duration("reconnect_min", DefaultReconnectMin),
			q.Duration("reconnect_max", DefaultReconnectMax)))
	}

	dial := *u
	pass := url.Values{}
	all := u.Query()
	for _, k := range passThrough {
		if q.Has(k) {
			pass[k] = all[k]
		}
	}
	dial.RawQuery = pass.Encode()
	dial.Fragment, dial.RawFragment = "", ""

	if err := q.Err(); err != nil {
		return nil, nil, fail("%v", err)
	}
	// Apply everything once, so that a bad value is reported now, by the
	// URL, rather than at the first connection.
	if _, err := newURLConfig(anyRole, &dial, opts); err != nil {
		return nil, nil, fail("%v", err)
	}
	return &dial, opts, nil
}

// newURLConfig builds the configuration for a broker URL: it checks the URL
// with amqp091-go's parser, once per address of its host list (or of
// WithAddresses), and reads its connection timeout.
func newURLConfig[O applier](r role, u *url.URL, opts []O) (*config, error) {
	cfg, err := newConfig(r, opts)
	if err != nil {
		return nil, err
	}
	if cfg.tls != nil && u.Scheme == Scheme {
		// WithTLS on an amqp:// URL: amqp091-go only does TLS for amqps.
		v := *u
		v.Scheme = SchemeTLS
		u = &v
	}
	hosts := cfg.addrs
	if hosts == nil {
		hosts = []string{u.Host} // "" dials amqp091-go's default, localhost
		if strings.Contains(u.Host, ",") {
			hosts = strings.Split(u.Host, ",")
			for _, h := range hosts {
				if err := checkAddress(h); err != nil {
					return nil, transport.Invalidf("amqp: URL %s: %v", u.Redacted(), err)
				}
			}
		}
	}
	cfg.redacted = u.Redacted()
	cfg.targets = cfg.targets[:0]
	for _, h := range hosts {
		v := *u
		v.Host = h
		uri, err := amqp.ParseURI(v.String())
		if err != nil {
			// Its errors quote parameters, never the user information.
			return nil, transport.Invalidf("amqp: URL %s: %v", u.Redacted(), err)
		}
		if uri.ConnectionTimeout > 0 {
			cfg.connectTimeout = time.Duration(uri.ConnectionTimeout) * time.Millisecond
		}
		cfg.targets = append(cfg.targets, target{
			url:  v.String(),
			addr: net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)),
		})
	}
	return cfg, nil
}

// target is one broker address to dial.
type target struct {
	url  string // the whole URL with this one host, for amqp091-go
	addr string // host:port, for messages
}

// checkAddress refuses what cannot be one "host[:port]" of a host list.
func checkAddress(a string) error {
	switch {
	case a == "":
		return errors.New("empty address in the host list")
	case strings.ContainsAny(a, ",/@?# "):
		return fmt.Errorf("address %q: want host or host:port", a)
	}
	if strings.Contains(a, ":") && !strings.HasSuffix(a, "]") {
		if _, port, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("address %q: %v", a, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("address %q: bad port %q", a, port)
		}
	}
	return nil
}

// parseRaw parses a URL given as text, without quoting it (and its password)
// in the error as url.Parse does. net/url refuses a host list whose last
// host has no port ("h1:5672,h2"), so a list is set aside while the rest is
// parsed, and checked address by address later.
func parseRaw(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		if u, hosts := parseHostList(raw); u != nil {
			u.Host = hosts
			return u, nil
		}
		return nil, transport.Invalidf("amqp: malformed URL %s", transport.RedactString(raw))
	}
	return u, nil
}

// parseHostList parses raw with its comma-separated host list replaced by
// one placeholder host, and returns the list; nil when raw has no list or
// does not parse either way.
func parseHostList(raw string) (*url.URL, string) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	at := strings.LastIndex(authority, "@")
	hosts := authority[at+1:]
	if !strings.Contains(hosts, ",") {
		return nil, ""
	}
	u, err := url.Parse(scheme + "://" + authority[:at+1] + "placeholder" + rest[end:])
	if err != nil {
		return nil, ""
	}
	return u, hosts
}
