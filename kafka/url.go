package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Scheme is the URL scheme this package registers:
//
//	kafka://user:pass@host1:9092,host2:9092?sasl=scram-sha-512&tls=true&acks=all
//
// Query options (unknown ones are an error), each the same as the option
// named after it. One URL serves both ends: an option of the other role
// (acks for a Subscriber) is checked, then not applied (see ParseURL).
//
//	client_id=NAME                      WithClientID
//	tls=true                            WithTLS, with the system's roots
//	tls_ca=FILE                         WithTLS, trusting the PEM certificates in FILE (implies tls)
//	tls_server_name=NAME                the name to verify the certificate against (implies tls)
//	tls_insecure_skip_verify=true       no certificate verification: for tests only (implies tls)
//	sasl=plain|scram-sha-256|scram-sha-512   WithSASL, with the URL's user and password
//	acks=all|one|none                   WithRequiredAcks
//	balancer=murmur2|crc32|hash|round_robin   WithBalancer (kafka-go's Murmur2Balancer, CRC32Balancer, Hash, RoundRobin)
//	compression=none|gzip|snappy|lz4|zstd    WithCompression
//	max_message_bytes=N                 WithMaxMessageBytes
//	batch_bytes=N                       WithBatchBytes
//	max_attempts=N                      WithMaxAttempts
//	create_topics=false                 WithoutCreateTopics (default true: missing topics are created)
//	partitions=N                        WithCreateTopics: partitions of a created topic (default -1, the broker's)
//	replication_factor=N                WithCreateTopics: its replication factor (default -1, the broker's)
//	commit_interval=1s                  WithCommitInterval
//	heartbeat_interval=3s               WithHeartbeatInterval
//	session_timeout=30s                 WithSessionTimeout
//	rebalance_timeout=30s               WithRebalanceTimeout
//	fetch_max_bytes=N                   WithFetchMaxBytes
//	fetch_max_wait=500ms                WithFetchMaxWait
//	fetch_linger=1ms                    WithFetchLinger (0 turns it off)
const Scheme = "kafka"

func init() { transport.Register(Scheme, opener{}) }

type opener struct{}

func (opener) OpenPublisher(_ context.Context, u *url.URL, o transport.OpenConfig) (transport.Publisher, error) {
	brokers, opts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return NewPublisher(brokers, roleOptions[PublisherOption](withOpenConfig(opts, o))...)
}

func (opener) OpenSubscriber(_ context.Context, u *url.URL, o transport.OpenConfig) (transport.Subscriber, error) {
	brokers, opts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return NewSubscriber(brokers, roleOptions[SubscriberOption](withOpenConfig(opts, o))...)
}

func withOpenConfig(opts []Option, o transport.OpenConfig) []Option {
	if o.Logger != nil {
		opts = append(opts, WithLogger(o.Logger))
	}
	return opts
}

// ParseURL reads a kafka:// URL into broker addresses and options. Errors
// name the problem and show the URL with its password redacted.
//
// The options serve either role, so that one URL can configure both ends,
// as transport.OpenPublisher and transport.OpenSubscriber do: each is the
// option named in Scheme's list, and one meant for the other role (acks=
// for a Subscriber, fetch_max_wait= for a Publisher) is checked here, then
// not applied to this role rather than refused.
func ParseURL(u *url.URL) ([]string, []Option, error) {
	fail := func(format string, args ...any) error {
		return transport.Invalidf("kafka: URL %s: "+format, append([]any{u.Redacted()}, args...)...)
	}
	if u.Scheme != Scheme {
		return nil, nil, fail("scheme is %q, want %q", u.Scheme, Scheme)
	}
	if u.Host == "" {
		return nil, nil, fail("no broker address")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, nil, fail("unexpected path %q (a kafka URL names brokers only)", u.Path)
	}
	var brokers []string
	for _, b := range strings.Split(u.Host, ",") {
		if b == "" {
			return nil, nil, fail("empty broker address")
		}
		if !strings.Contains(b, ":") {
			b += ":9092"
		}
		brokers = append(brokers, b)
	}

	q := driver.NewQuery(u)
	var opts []Option
	add := func(o Option) { opts = append(opts, o) }
	addPub := func(o PublisherOption) { add(forRole(publisherRole, o)) }
	addSub := func(o SubscriberOption) { add(forRole(subscriberRole, o)) }

	if id := q.String("client_id", ""); id != "" {
		add(WithClientID(id))
	}
	if t, err := tlsFromQuery(q); err != nil {
		return nil, nil, fail("%v", err)
	} else if t != nil {
		add(WithTLS(t))
	}
	switch mech := q.String("sasl", ""); {
	case mech != "":
		if u.User == nil || u.User.Username() == "" {
			return nil, nil, fail("sasl=%s needs a user (kafka://user:password@host...)", mech)
		}
		pass, _ := u.User.Password()
		add(WithSASL(mech, u.User.Username(), pass))
	case u.User != nil:
		return nil, nil, fail("a user is given but no sasl mechanism (add sasl=plain, scram-sha-256 or scram-sha-512)")
	}
	if s := q.String("acks", ""); s != "" {
		var acks kafka.RequiredAcks
		if err := acks.UnmarshalText([]byte(s)); err != nil {
			q.Fail("acks=%q: want all, one or none", s)
		} else {
			addPub(WithRequiredAcks(acks))
		}
	}
	if s := q.String("balancer", ""); s != "" {
		if b, ok := balancers[s]; ok {
			addPub(WithBalancer(b()))
		} else {
			q.Fail("balancer=%q: want murmur2, crc32, hash or round_robin", s)
		}
	}
	if s := q.String("compression", ""); s != "" && s != "none" {
		var codec kafka.Compression
		if err := codec.UnmarshalText([]byte(s)); err != nil {
			q.Fail("compression=%q: want none, gzip, snappy, lz4 or zstd", s)
		} else {
			addPub(WithCompression(codec))
		}
	}
	if q.Has("max_message_bytes") {
		addPub(WithMaxMessageBytes(q.Int("max_message_bytes", 0)))
	}
	if q.Has("batch_bytes") {
		addPub(WithBatchBytes(q.Int("batch_bytes", 0)))
	}
	if q.Has("max_attempts") {
		add(WithMaxAttempts(q.Int("max_attempts", 0)))
	}
	if q.Has("fetch_max_bytes") {
		addSub(WithFetchMaxBytes(q.Int("fetch_max_bytes", 0)))
	}
	create := q.Bool("create_topics", true)
	partitions, replicas := q.Has("partitions"), q.Has("replication_factor")
	switch {
	case !create && (partitions || replicas):
		q.Fail("partitions and replication_factor need create_topics=true")
	case !create:
		add(WithoutCreateTopics())
	case partitions || replicas:
		add(WithCreateTopics(q.Int("partitions", -1), q.Int("replication_factor", -1)))
	}
	for key, opt := range map[string]func(time.Duration) SubscriberOption{
		"commit_interval":    WithCommitInterval,
		"heartbeat_interval": WithHeartbeatInterval,
		"session_timeout":    WithSessionTimeout,
		"rebalance_timeout":  WithRebalanceTimeout,
		"fetch_max_wait":     WithFetchMaxWait,
		"fetch_linger":       WithFetchLinger,
	} {
		if q.Has(key) {
			addSub(opt(q.Duration(key, 0)))
		}
	}
	if err := q.Err(); err != nil {
		return nil, nil, fail("%v", err)
	}
	// Apply the options once, so that a bad value is reported now, by the
	// URL, rather than by the constructor.
	if _, err := newConfig(anyRole, brokers, opts); err != nil {
		return nil, nil, fail("%v", err)
	}
	return brokers, opts, nil
}

var balancers = map[string]func() kafka.Balancer{
	"murmur2":     func() kafka.Balancer { return &kafka.Murmur2Balancer{} },
	"crc32":       func() kafka.Balancer { return &kafka.CRC32Balancer{} },
	"hash":        func() kafka.Balancer { return &kafka.Hash{} },
	"round_robin": func() kafka.Balancer { return &kafka.RoundRobin{} },
}

func tlsFromQuery(q *driver.Query) (*tls.Config, error) {
	on := q.Bool("tls", false)
	ca := q.String("tls_ca", "")
	name := q.String("tls_server_name", "")
	insecure := q.Bool("tls_insecure_skip_verify", false)
	if !on && ca == "" && name == "" && !insecure {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: name, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, transport.Invalidf("tls_ca=%s holds no PEM certificate", ca)
		}
	}
	return cfg, nil
}
