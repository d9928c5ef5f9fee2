package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

// TestInspectingCreatesNothing: Stats and Purge of a missing topic are
// ErrNotFound, also for a subscriber that creates missing topics when it
// subscribes, and the topic is still missing afterwards.
func TestInspectingCreatesNothing(t *testing.T) {
	brokers := brokertest.Kafka(t)
	sub, err := kafka.NewSubscriber(brokers, kafka.WithCreateTopics(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := brokertest.Name(t, "missing")
	for range 2 {
		if _, err := transport.Stats(ctx, sub, topic, "g"); !errors.Is(err, transport.ErrNotFound) {
			t.Fatalf("Stats of a missing topic: %v, want ErrNotFound", err)
		}
		if _, err := transport.Purge(ctx, sub, topic, "g"); !errors.Is(err, transport.ErrNotFound) {
			t.Fatalf("Purge of a missing topic: %v, want ErrNotFound", err)
		}
	}
	if err := transport.DeleteTopic(ctx, sub, topic); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("DeleteTopic of a missing topic: %v, want ErrNotFound", err)
	}
	if err := transport.CreateTopic(ctx, sub, topic, transport.TopicSpec{Kind: "fanout"}); !errors.Is(err, transport.ErrInvalid) {
		t.Fatalf("CreateTopic with an exchange kind: %v, want ErrInvalid", err)
	}
	// A group that never subscribed to an existing topic is not found either.
	if err := transport.CreateTopic(ctx, sub, topic, transport.TopicSpec{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	defer transport.DeleteTopic(ctx, sub, topic)
	if _, err := transport.Stats(ctx, sub, topic, "nobody"); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("Stats of an unknown group: %v, want ErrNotFound", err)
	}
}
