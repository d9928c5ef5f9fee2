package kafka

import (
	"context"
	"errors"
	"fmt"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
)

// groupStats reads the group's consumer lag on topic: for every partition,
// the high watermark minus the committed offset.
func (c *cluster) groupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	st := transport.GroupStats{Topic: topic, Group: group}
	parts, err := c.existingPartitions(ctx, topic)
	if err != nil {
		return st, err
	}
	state, members, err := c.describeGroup(ctx, group)
	if err != nil {
		return st, err
	}
	committed, err := c.committed(ctx, topic, group, parts)
	if err != nil {
		return st, err
	}
	ends, err := c.offsets(ctx, topic, parts, false)
	if err != nil {
		return st, err
	}
	committedAny := false
	for _, p := range parts {
		pl := transport.PartitionLag{Partition: p, End: ends[p], Committed: committed[p]}
		if pl.Committed >= 0 {
			committedAny = true
			pl.Lag = max(0, pl.End-pl.Committed)
		}
		st.Partitions = append(st.Partitions, pl)
		st.Backlog += pl.Lag
	}
	if !committedAny && members == 0 && (state == "Dead" || state == "") {
		return st, transport.NewError(transport.CodeNotFound, "inspect group",
			fmt.Errorf("%w: kafka: group %q has no members and no committed offsets on topic %q",
				transport.ErrNotFound, group, topic))
	}
	st.Ready, st.Consumers = st.Backlog, members
	return st, nil
}

// purge commits the end offset of every partition of topic for group, which
// only the group coordinator accepts from outside the group while it has no
// members; with members it would be overwritten by their next commit, so
// brokerkit refuses.
func (c *cluster) purge(ctx context.Context, topic, group string) (int64, error) {
	st, err := c.groupStats(ctx, topic, group)
	// A group that never committed can be purged (it then starts at the
	// end); a missing topic cannot.
	if err != nil && (!errors.Is(err, transport.ErrNotFound) || len(st.Partitions) == 0) {
		return 0, err
	}
	_, members, err := c.describeGroup(ctx, group)
	if err != nil {
		return 0, err
	}
	if members > 0 {
		return 0, transport.Invalidf("kafka: group %q has %d live member(s); close them before purging, or their next commit undoes it",
			group, members)
	}
	commits := make([]kafka.OffsetCommit, 0, len(st.Partitions))
	for _, p := range st.Partitions {
		commits = append(commits, kafka.OffsetCommit{Partition: p.Partition, Offset: p.End})
	}
	err = c.retry(ctx, "purge", func(ctx context.Context) error {
		res, err := c.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
			GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: commits},
		})
		if err != nil {
			return err
		}
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
		}
		return nil
	})
	return st.Backlog, err
}

// existingPartitions returns the partitions of topic without ever creating
// it (partitions would, with WithCreateTopics, and so could a broker with
// auto.create.topics.enable): inspecting must not change the cluster. It
// reads kafka-go's metadata cache, which knows every topic that existed when
// it was filled and is refreshed every few seconds.
func (c *cluster) existingPartitions(ctx context.Context, topic string) ([]int, error) {
	var parts []int
	err := c.retry(ctx, "metadata", func(ctx context.Context) error {
		var err error
		parts, err = c.metadata(ctx, topic, false)
		return err
	})
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return nil, transport.NewError(transport.CodeNotFound, "kafka",
			fmt.Errorf("topic %q does not exist: %w", topic, kafka.UnknownTopicOrPartition))
	}
	return parts, err
}

// describeGroup returns the group's state and its number of members.
func (c *cluster) describeGroup(ctx context.Context, group string) (string, int, error) {
	var state string
	var members int
	err := c.retry(ctx, "describe group", func(ctx context.Context) error {
		res, err := c.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			return err
		}
		for _, g := range res.Groups {
			if g.GroupID != group {
				continue
			}
			if g.Error != nil {
				return g.Error
			}
			state, members = g.GroupState, len(g.Members)
		}
		return nil
	})
	return state, members, err
}

// committed returns the group's committed offset of each partition, -1
// where it has none.
func (c *cluster) committed(ctx context.Context, topic, group string, parts []int) (map[int]int64, error) {
	out := make(map[int]int64, len(parts))
	err := c.retry(ctx, "fetch offsets", func(ctx context.Context) error {
		res, err := c.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
			GroupID: group, Topics: map[string][]int{topic: parts},
		})
		if err != nil {
			return err
		}
		if errors.Is(res.Error, kafka.GroupIdNotFound) {
			return nil // some brokers (kfake) say so for a group that never committed
		}
		if res.Error != nil {
			return res.Error
		}
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				return p.Error
			}
			out[p.Partition] = p.CommittedOffset
		}
		return nil
	})
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			out[p] = -1
		}
	}
	return out, err
}

func (c *cluster) createTopicSpec(ctx context.Context, topic string, spec transport.TopicSpec) error {
	if spec.Kind != "" {
		return transport.Invalidf("kafka: topic %q: TopicSpec.Kind %q has no meaning on Kafka", topic, spec.Kind)
	}
	partitions, replicas := max(spec.Partitions, 1), max(spec.ReplicationFactor, 1)
	return c.retry(ctx, "create topic", func(ctx context.Context) error {
		res, err := c.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: topic, NumPartitions: partitions, ReplicationFactor: replicas,
		}}})
		if err != nil {
			return err
		}
		if err := res.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("topic %q: %w", topic, err)
		}
		return nil
	})
}

func (c *cluster) deleteTopic(ctx context.Context, topic string) error {
	return c.retry(ctx, "delete topic", func(ctx context.Context) error {
		res, err := c.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
		if err != nil {
			return err
		}
		if err := res.Errors[topic]; err != nil {
			return fmt.Errorf("topic %q: %w", topic, err)
		}
		return nil
	})
}

// GroupStats reports the consumer lag of group on topic: per partition (in
// Partitions, ordered), the high watermark minus the group's committed
// offset, and their sum in Backlog (and Ready: Kafka cannot tell fetched
// from unfetched). A partition without a committed offset counts 0, since
// the group starts there at the end. Consumers is the number of group
// members. A group with neither members nor commits is an ErrNotFound error.
// Commits lag a handler's acks by up to WithCommitInterval.
func (s *Subscriber) GroupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	return s.cluster.groupStats(ctx, topic, group)
}

// Purge moves group's committed offsets on topic to the end of every
// partition, and returns how many messages that skipped. It refuses with an
// ErrInvalid error while the group has live members.
func (s *Subscriber) Purge(ctx context.Context, topic, group string) (int64, error) {
	return s.cluster.purge(ctx, topic, group)
}

// CreateTopic creates topic with spec.Partitions partitions and
// spec.ReplicationFactor replicas (1 and 1 by default). An existing topic is
// left as it is.
func (s *Subscriber) CreateTopic(ctx context.Context, topic string, spec transport.TopicSpec) error {
	return s.cluster.createTopicSpec(ctx, topic, spec)
}

// DeleteTopic deletes topic and its messages. A missing topic is an
// ErrNotFound error.
func (s *Subscriber) DeleteTopic(ctx context.Context, topic string) error {
	return s.cluster.deleteTopic(ctx, topic)
}

// GroupStats: as Subscriber.GroupStats.
func (p *Publisher) GroupStats(ctx context.Context, topic, group string) (transport.GroupStats, error) {
	return p.cluster.groupStats(ctx, topic, group)
}

// Purge: as Subscriber.Purge.
func (p *Publisher) Purge(ctx context.Context, topic, group string) (int64, error) {
	return p.cluster.purge(ctx, topic, group)
}

// CreateTopic: as Subscriber.CreateTopic.
func (p *Publisher) CreateTopic(ctx context.Context, topic string, spec transport.TopicSpec) error {
	return p.cluster.createTopicSpec(ctx, topic, spec)
}

// DeleteTopic: as Subscriber.DeleteTopic.
func (p *Publisher) DeleteTopic(ctx context.Context, topic string) error {
	return p.cluster.deleteTopic(ctx, topic)
}

var (
	_ transport.Inspector  = (*Subscriber)(nil)
	_ transport.Purger     = (*Subscriber)(nil)
	_ transport.TopicAdmin = (*Subscriber)(nil)
	_ transport.Inspector  = (*Publisher)(nil)
	_ transport.Purger     = (*Publisher)(nil)
	_ transport.TopicAdmin = (*Publisher)(nil)
)
