package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// committed reads a group's committed offset of partition 0.
func committed(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Topics[topic] {
		if p.Partition == 0 {
			return p.CommittedOffset
		}
	}
	t.Fatalf("no committed offset for %s/0 in group %s", topic, group)
	return 0
}

// TestRedeliveryInPlace: a failing message is handed to the handler again,
// with the same ID and Attempt raised, and the others are not held up.
func TestRedeliveryInPlace(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 1)
	pub, sub := newPair(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	var mu sync.Mutex
	attempts := map[string][]int{}
	done := make(chan struct{})
	handled := 0
	h := func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[string(m.Payload)] = append(attempts[string(m.Payload)], m.Attempt)
		if string(m.Payload) == "fail-twice" && m.Attempt < 3 {
			return errors.New("not yet")
		}
		if handled++; handled == 3 {
			close(done)
		}
		return nil
	}
	s, err := sub.Subscribe(ctx, topic, h, transport.WithGroup(brokertest.Name(t, "g")),
		transport.WithBackoff(time.Millisecond, 10*time.Millisecond), transport.WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = pub.Publish(ctx, topic, &transport.Message{Key: "a", Payload: []byte("fail-twice")},
		&transport.Message{Key: "b", Payload: []byte("ok-1")}, &transport.Message{Key: "c", Payload: []byte("ok-2")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("timed out waiting for deliveries")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(attempts["fail-twice"]); got != "[1 2 3]" {
		t.Errorf("attempts of the failing message: %s, want [1 2 3]", got)
	}
	for _, p := range []string{"ok-1", "ok-2"} {
		if got := fmt.Sprint(attempts[p]); got != "[1]" {
			t.Errorf("attempts of %s: %s, want [1]", p, got)
		}
	}
}

// TestCommitNeverPassesUnfinished: with concurrency, later messages finish
// while an earlier one is still running; closing then commits only up to
// the unfinished one, which the next member of the group gets again.
func TestCommitNeverPassesUnfinished(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 1)
	group := brokertest.Name(t, "g")
	pub, sub := newPairWith(t, brokers, nil, []kafka.SubscriberOption{kafka.WithCommitInterval(20 * time.Millisecond)})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	const stuck = 3 // offset of the message whose handler never finishes
	others := make(chan struct{}, 10)
	h := func(hctx context.Context, m *transport.Message) error {
		var km kafkago.Message
		if !m.As(&km) {
			return errors.New("no native message")
		}
		if km.Offset == stuck {
			<-hctx.Done() // until the drain timeout cancels it
			return hctx.Err()
		}
		others <- struct{}{}
		return nil
	}
	s, err := sub.Subscribe(ctx, topic, h, transport.WithGroup(group), transport.WithConcurrency(4),
		transport.WithDrainTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*transport.Message
	for i := range 8 {
		// No keys: a keyed message waiting for the stuck worker would hold up intake.
		msgs = append(msgs, &transport.Message{Payload: []byte(fmt.Sprint(i))})
	}
	if err := pub.Publish(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}
	for range 7 {
		select {
		case <-others:
		case <-ctx.Done():
			t.Fatal("timed out waiting for the other messages")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, brokers, group, topic); got != stuck {
		t.Fatalf("committed offset %d, want %d (the unfinished message)", got, stuck)
	}

	// The next member starts at the unfinished message.
	c := transporttest.NewCollector(nil)
	s2, err := sub.Subscribe(ctx, topic, c.Handle, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	first := c.WaitAll(t, 1, wait)[0]
	if first.ID != msgs[stuck].ID {
		t.Fatalf("next member started at %q, want the unfinished message %q", first.Payload, msgs[stuck].Payload)
	}
}

// TestGroupKeepsMessagesWhileAway: a group's first subscription fixes its
// starting point; what is published while no member runs is kept for it.
func TestGroupKeepsMessagesWhileAway(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 2)
	group := brokertest.Name(t, "g")
	pub, sub := newPair(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	if err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("before the group")}); err != nil {
		t.Fatal(err)
	}
	s, err := sub.Subscribe(ctx, topic, transporttest.NewCollector(nil).Handle, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("while away")}); err != nil {
		t.Fatal(err)
	}
	c := transporttest.NewCollector(nil)
	s, err = sub.Subscribe(ctx, topic, c.Handle, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := string(c.WaitAll(t, 1, wait)[0].Payload); got != "while away" {
		t.Fatalf("got %q, want the message published while away", got)
	}
}

// TestStartOldest: a new group, and a subscriber without a group, can start
// at the oldest message.
func TestStartOldest(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 2)
	pub, sub := newPair(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := pub.Publish(ctx, topic, &transport.Message{Key: "x", Payload: []byte("old")}); err != nil {
		t.Fatal(err)
	}
	for _, group := range []string{"", brokertest.Name(t, "g")} {
		c := transporttest.NewCollector(nil)
		opts := []transport.SubscribeOption{transport.WithStart(transport.StartOldest)}
		if group != "" {
			opts = append(opts, transport.WithGroup(group))
		}
		s, err := sub.Subscribe(ctx, topic, c.Handle, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(c.WaitAll(t, 1, wait)[0].Payload); got != "old" {
			t.Errorf("group %q: got %q, want the old message", group, got)
		}
		s.Close()
	}
}

// TestNativeMessage: the kafka-go message behind a delivery carries its
// partition and offset; the key picks the partition as Java's default
// partitioner does.
func TestNativeMessage(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 4)
	pub, sub := newPair(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctx, topic, c.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Partitions the Java client's murmur2 partitioner picks for these keys
	// among 4 partitions (Utils.toPositive(Utils.murmur2(key)) % 4).
	want := map[string]int{}
	for _, k := range []string{"a", "b", "customer-7", "order-42", "ключ"} {
		want[k] = int(javaMurmur2([]byte(k))&0x7fffffff) % 4
		if err := pub.Publish(ctx, topic, &transport.Message{Key: k, Payload: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range c.WaitAll(t, len(want), wait) {
		var km kafkago.Message
		if !m.As(&km) {
			t.Fatal("As(*kafka.Message) failed")
		}
		if km.Topic != topic || km.Partition != want[m.Key] || string(km.Key) != m.Key {
			t.Errorf("key %q: native message in %s/%d, want %s/%d", m.Key, km.Topic, km.Partition, topic, want[m.Key])
		}
		var ptr *kafkago.Message
		if m.As(&ptr) {
			t.Error("As(**kafka.Message) succeeded; the native type is kafka.Message")
		}
	}
}

// javaMurmur2 is org.apache.kafka.common.utils.Utils.murmur2, written out
// here so that the test does not trust the implementation it checks.
func javaMurmur2(data []byte) uint32 {
	const m, r = 0x5bd1e995, 24
	n := len(data)
	h := uint32(0x9747b28c) ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
