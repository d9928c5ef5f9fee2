package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// TestPublishManyPartitionsManyBrokers publishes from many goroutines to a
// topic of 8 partitions led by 3 brokers: one produce request per broker
// carries every partition it leads, and every message arrives, in order per
// key.
func TestPublishManyPartitionsManyBrokers(t *testing.T) {
	brokers := brokertest.Kafka(t, kfake.NumBrokers(3))
	topic := brokertest.KafkaTopic(t, brokers, 8)
	pub, sub := newPair(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctx, topic, c.Handle, transport.WithGroup(brokertest.Name(t, "g")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const goroutines, each = 40, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m := &transport.Message{Key: fmt.Sprint("k", g), Payload: []byte(strconv.Itoa(i))}
				if err := pub.Publish(ctx, topic, m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := c.WaitAll(t, goroutines*each, wait)
	next := map[string]int{}
	for _, m := range got {
		n, _ := strconv.Atoi(string(m.Payload))
		if n != next[m.Key] {
			t.Fatalf("key %s: got message %d, want %d (order per key broken)", m.Key, n, next[m.Key])
		}
		next[m.Key]++
	}
	for g := range goroutines {
		if k := fmt.Sprint("k", g); next[k] != each {
			t.Errorf("key %s: %d messages, want %d", k, next[k], each)
		}
	}
}
