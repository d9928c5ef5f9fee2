package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/brokerkit/brokerkit/internal/backoff"
	"github.com/brokerkit/brokerkit/transport"
)

// requestTimeout bounds one request to a broker, and is the time the broker
// may take to gather the acknowledgements of a produce request (half of it,
// as kafka-go counts network time in).
const requestTimeout = 30 * time.Second

// cluster is what a Publisher or Subscriber uses to reach the brokers: a
// kafka-go Transport for produce, metadata and offset requests, and a Dialer
// for the connections a subscriber holds, over kafka-go Conns: to the
// consumer group coordinator and to the partition leaders it fetches from.
type cluster struct {
	cfg          *config
	addr         net.Addr
	transport    *kafka.Transport
	ownTransport bool
	dialer       *kafka.Dialer
	client       *kafka.Client
	log          *slog.Logger

	// leaders maps a topic to its partitions' leader broker IDs
	// (map[int]int32), as last read from metadata: the publisher groups
	// partitions by leader to send one produce request per broker.
	leaders sync.Map
}

func newCluster(cfg *config) *cluster {
	c := &cluster{cfg: cfg, addr: kafka.TCP(cfg.brokers...), log: cfg.logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.transport, c.dialer = cfg.transport, cfg.dialer
	switch {
	case c.transport == nil && c.dialer == nil:
		c.dialer = &kafka.Dialer{ClientID: cfg.clientID, Timeout: 10 * time.Second, DualStack: true,
			TLS: cfg.tls, SASLMechanism: cfg.sasl}
		fallthrough
	case c.transport == nil:
		c.transport = &kafka.Transport{ClientID: c.dialer.ClientID, TLS: c.dialer.TLS, SASL: c.dialer.SASLMechanism,
			Dial: c.dialer.DialFunc}
		c.ownTransport = true
	case c.dialer == nil:
		c.dialer = &kafka.Dialer{ClientID: c.transport.ClientID, Timeout: 10 * time.Second, DualStack: true,
			TLS: c.transport.TLS, SASLMechanism: c.transport.SASL, DialFunc: c.transport.Dial}
	}
	c.client = &kafka.Client{Addr: c.addr, Transport: c.transport, Timeout: requestTimeout}
	return c
}

// close releases the connections of a Transport brokerkit built; an adopted
// one belongs to its owner.
func (c *cluster) close() {
	if c.ownTransport {
		c.transport.CloseIdleConnections()
	}
}

// partitions returns the sorted partition IDs of topic, creating a missing
// topic unless WithoutCreateTopics said not to; then it is an ErrNotFound
// error.
func (c *cluster) partitions(ctx context.Context, topic string) ([]int, error) {
	var parts []int
	err := c.retry(ctx, "metadata", func(ctx context.Context) error {
		var err error
		parts, err = c.lookup(ctx, topic)
		return err
	})
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		hint := "topic creation is off (create_topics=false in the URL, WithoutCreateTopics in Go): create it first"
		return nil, transport.NewError(transport.CodeNotFound, "kafka",
			fmt.Errorf("topic %q does not exist (%s): %w", topic, hint, kafka.UnknownTopicOrPartition))
	}
	return parts, err
}

// lookup reads the topic's partitions, from kafka-go's metadata cache first,
// then from a broker (the cache only learns of topics created by others on
// its next refresh), then by creating the topic if the options say so.
func (c *cluster) lookup(ctx context.Context, topic string) ([]int, error) {
	parts, err := c.metadata(ctx, topic, false)
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		return parts, err
	}
	// AllowAutoTopicCreation makes kafka-go ask a broker instead of its cache.
	// A broker creates the topic only when auto.create.topics.enable is on,
	// as it would for the Java client.
	parts, err = c.metadata(ctx, topic, true)
	if !errors.Is(err, kafka.UnknownTopicOrPartition) || c.cfg.create == nil {
		return parts, err
	}
	if err := c.createTopic(ctx, topic); err != nil {
		return nil, err
	}
	return c.metadata(ctx, topic, false)
}

func (c *cluster) metadata(ctx context.Context, topic string, fromBroker bool) ([]int, error) {
	res, err := c.transport.RoundTrip(ctx, c.addr, &metadataAPI.Request{
		TopicNames:             []string{topic},
		AllowAutoTopicCreation: fromBroker,
	})
	if err != nil {
		return nil, err
	}
	for _, t := range res.(*metadataAPI.Response).Topics {
		if t.Name != topic {
			continue
		}
		if t.ErrorCode != 0 {
			return nil, kafka.Error(t.ErrorCode)
		}
		if len(t.Partitions) == 0 {
			return nil, kafka.LeaderNotAvailable // being created
		}
		parts := make([]int, len(t.Partitions))
		old, _ := c.leaders.Load(topic)
		known, _ := old.(map[int]int32)
		same := len(known) == len(t.Partitions)
		for i, p := range t.Partitions {
			parts[i] = int(p.PartitionIndex)
			if id, ok := known[parts[i]]; !ok || id != p.LeaderID {
				same = false
			}
		}
		if !same {
			leaders := make(map[int]int32, len(t.Partitions))
			for _, p := range t.Partitions {
				leaders[int(p.PartitionIndex)] = p.LeaderID
			}
			c.leaders.Store(topic, leaders)
		}
		slices.Sort(parts)
		return parts, nil
	}
	return nil, kafka.UnknownTopicOrPartition
}

func (c *cluster) createTopic(ctx context.Context, topic string) error {
	spec := c.cfg.create
	res, err := c.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: spec.Partitions, ReplicationFactor: spec.ReplicationFactor,
	}}})
	if err != nil {
		return err
	}
	if err := res.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %q: %w", topic, err)
	}
	c.log.Info("kafka: created topic", "topic", topic, "partitions", spec.Partitions,
		"replication_factor", spec.ReplicationFactor)
	return nil
}

// offsets resolves the first or the next-to-be-written offset of partitions.
func (c *cluster) offsets(ctx context.Context, topic string, parts []int, oldest bool) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = kafka.LastOffsetOf(p)
		if oldest {
			reqs[i] = kafka.FirstOffsetOf(p)
		}
	}
	out := make(map[int]int64, len(parts))
	err := c.retry(ctx, "list offsets", func(ctx context.Context) error {
		res, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{topic: reqs},
		})
		if err != nil {
			return err
		}
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				return p.Error
			}
			out[p.Partition] = p.LastOffset
			if oldest {
				out[p.Partition] = p.FirstOffset
			}
		}
		if len(out) != len(parts) {
			return kafka.LeaderNotAvailable
		}
		return nil
	})
	return out, err
}

// retry runs fn until it succeeds, fails for good, has been tried
// cfg.maxAttempts times, or ctx ends. When ctx ends after a failure, the
// error says both why the broker could not be reached and that time ran out.
func (c *cluster) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	var b backoff.Backoff
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return classify.DeadlineError(op, ctx, err)
		}
		err = c.explainEOF(ctx, err)
		if !classify.Retryable(err) || attempt >= c.cfg.maxAttempts {
			return classify.Wrap(op, err)
		}
		c.log.Debug("kafka: retrying", "op", op, "attempt", attempt, "err", err)
		if !b.Wait(ctx) {
			return classify.DeadlineError(op, ctx, err)
		}
	}
}

// explainEOF tells a refused SASL login from an outage. A broker may answer
// a wrong password on kafka-go's Transport by closing the connection (kfake
// does), which kafka-go reports as an EOF, like a broker going away. With
// SASL on, an EOF is checked by logging in to a broker again with the
// Dialer: when it says SASL_AUTHENTICATION_FAILED, or the TCP and TLS
// connection succeeds and the broker hangs up during the SASL exchange, the
// login was refused.
func (c *cluster) explainEOF(ctx context.Context, err error) error {
	if c.dialer.SASLMechanism == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return err
	}
	for _, broker := range c.cfg.brokers {
		probe, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, perr := c.dialer.DialContext(probe, "tcp", broker)
		cancel()
		switch {
		case perr == nil:
			conn.Close()
			return err // the login works: the EOF was something else
		case codeOf(perr) == transport.CodeUnauthorized:
			return classify.Wrap("sasl", perr)
		case errors.Is(perr, io.EOF) || errors.Is(perr, io.ErrUnexpectedEOF):
			return transport.NewError(transport.CodeUnauthorized, "sasl", fmt.Errorf(
				"%w: broker %s closed the connection during SASL %s authentication (wrong user or password?): %w",
				transport.ErrUnauthorized, broker, c.dialer.SASLMechanism.Name(), err))
		}
	}
	return err
}

// leader returns the broker ID that led partition of topic at the last
// metadata read, or -1 when unknown.
func (c *cluster) leader(topic string, partition int) int32 {
	if m, ok := c.leaders.Load(topic); ok {
		if id, ok := m.(map[int]int32)[partition]; ok {
			return id
		}
	}
	return -1
}
