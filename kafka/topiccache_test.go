package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
)

// TestPublishCachesPartitions: Publish reads a topic's partitions once and
// reuses them; a produce failure forgets them, so that the next Publish
// reads them again.
func TestPublishCachesPartitions(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 4)
	p, err := NewPublisher(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	cached := func() *topicInfo {
		v, ok := p.topics.Load(topic)
		if !ok {
			return nil
		}
		return v.(*topicInfo)
	}
	if err := p.Publish(ctx, topic, &transport.Message{Payload: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	first := cached()
	if first == nil || len(first.parts) != 4 {
		t.Fatalf("after a Publish the cache holds %+v, want the topic's 4 partitions", first)
	}
	if err := p.Publish(ctx, topic, &transport.Message{Payload: []byte("2")},
		&transport.Message{Key: "k", Payload: []byte("3")}); err != nil {
		t.Fatal(err)
	}
	if cached() != first {
		t.Fatal("a second Publish read the partitions again")
	}
	p.forget(topic)
	if err := p.Publish(ctx, topic, &transport.Message{Payload: []byte("4")}); err != nil {
		t.Fatal(err)
	}
	if again := cached(); again == nil || again == first {
		t.Fatal("after forget, Publish did not read the partitions again")
	}
}
