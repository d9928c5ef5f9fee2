package transport

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnsupported: the backend does not offer the optional capability that
// was asked for (see "Optional capabilities" in the package doc). It also
// matches errors.ErrUnsupported, and CodeOf classifies it as CodeInvalid:
// asking again will not help.
var ErrUnsupported = fmt.Errorf("brokerkit: %w", errors.ErrUnsupported)

// GroupStats is what a backend can tell about one group's backlog on a topic.
//
// Backlog is the number to watch and alert on, the same idea on every
// backend: the messages the group has not finished. On RabbitMQ and memory it
// is the depth of the group's queue (Ready + Unacked); on Kafka it is the
// consumer lag summed over the topic's partitions.
type GroupStats struct {
	Topic string
	Group string
	// Backlog counts the messages the group has yet to finish.
	Backlog int64
	// Ready counts messages waiting to be delivered, and Unacked those
	// delivered and not yet settled. RabbitMQ and memory; Kafka cannot tell
	// them apart and reports its lag as Ready.
	Ready, Unacked int64
	// Consumers counts the live subscriptions (RabbitMQ consumers, Kafka
	// group members, memory subscriptions) of the group.
	Consumers int
	// Partitions is Kafka's per-partition view, ordered by partition; nil
	// elsewhere.
	Partitions []PartitionLag
}

// PartitionLag is one Kafka partition of a GroupStats.
type PartitionLag struct {
	Partition int
	// End is the high watermark: the offset the next message will get.
	End int64
	// Committed is the group's committed offset, -1 when it has none.
	Committed int64
	// Lag is End - Committed; 0 when nothing was committed, because a group
	// without a commit starts at the end.
	Lag int64
}

// Inspector reads the backlog of a group. Backends with a queue per group
// (RabbitMQ, memory) report the queue's depth; Kafka reports consumer lag.
// A group that does not exist is an ErrNotFound error.
type Inspector interface {
	GroupStats(ctx context.Context, topic, group string) (GroupStats, error)
}

// Purger drops the backlog of a group and reports how many messages it
// dropped. RabbitMQ purges the group's queue (messages delivered and not yet
// acked are not touched); Kafka moves the group's committed offsets to the
// end, and refuses while the group has live members; memory empties the
// queue.
type Purger interface {
	Purge(ctx context.Context, topic, group string) (int64, error)
}

// TopicSpec is how TopicAdmin.CreateTopic creates a topic. Zero values take
// the backend's defaults; a field a backend has no use for is ignored.
type TopicSpec struct {
	// Partitions and ReplicationFactor: Kafka. Defaults 1 and 1.
	Partitions        int
	ReplicationFactor int
	// Kind is the RabbitMQ exchange type ("topic", "direct", "fanout",
	// "headers"). Default: the backend's configured exchange type.
	Kind string
}

// TopicAdmin creates and deletes topics (Kafka topics, RabbitMQ exchanges,
// memory topics). CreateTopic succeeds when the topic already exists with
// compatible settings; DeleteTopic of a missing topic is an ErrNotFound
// error on Kafka and succeeds elsewhere, as the brokers do.
type TopicAdmin interface {
	CreateTopic(ctx context.Context, topic string, spec TopicSpec) error
	DeleteTopic(ctx context.Context, topic string) error
}

// Stats returns the backlog of group on topic if v (a Publisher, a
// Subscriber, or anything else a backend returned) is an Inspector, and an
// ErrUnsupported error otherwise.
func Stats(ctx context.Context, v any, topic, group string) (GroupStats, error) {
	i, ok := v.(Inspector)
	if !ok {
		return GroupStats{}, unsupported(v, "inspection (GroupStats)")
	}
	if err := checkGroup(topic, group); err != nil {
		return GroupStats{}, err
	}
	return i.GroupStats(ctx, topic, group)
}

// Purge drops the backlog of group on topic if v is a Purger, and returns an
// ErrUnsupported error otherwise.
func Purge(ctx context.Context, v any, topic, group string) (int64, error) {
	p, ok := v.(Purger)
	if !ok {
		return 0, unsupported(v, "purge")
	}
	if err := checkGroup(topic, group); err != nil {
		return 0, err
	}
	return p.Purge(ctx, topic, group)
}

// CreateTopic creates topic if v is a TopicAdmin, and returns an
// ErrUnsupported error otherwise.
func CreateTopic(ctx context.Context, v any, topic string, spec TopicSpec) error {
	a, ok := v.(TopicAdmin)
	if !ok {
		return unsupported(v, "topic administration")
	}
	if err := checkTopic(topic); err != nil {
		return err
	}
	if spec.Partitions < 0 || spec.ReplicationFactor < 0 {
		return Invalidf("topic %q: negative partitions (%d) or replication factor (%d)",
			topic, spec.Partitions, spec.ReplicationFactor)
	}
	return a.CreateTopic(ctx, topic, spec)
}

// DeleteTopic deletes topic if v is a TopicAdmin, and returns an
// ErrUnsupported error otherwise.
func DeleteTopic(ctx context.Context, v any, topic string) error {
	a, ok := v.(TopicAdmin)
	if !ok {
		return unsupported(v, "topic administration")
	}
	if err := checkTopic(topic); err != nil {
		return err
	}
	return a.DeleteTopic(ctx, topic)
}

func checkGroup(topic, group string) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if group == "" {
		return Invalidf("empty group: only a group has a backlog to inspect or purge")
	}
	return nil
}

func unsupported(v any, what string) error {
	return fmt.Errorf("%w: %T does not offer %s", ErrUnsupported, v, what)
}

func checkTopic(topic string) error {
	if topic == "" {
		return Invalidf("empty topic")
	}
	return nil
}
