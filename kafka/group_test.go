package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

// handledOnce watches a group's members: it counts every message handled and
// fails when two handlers hold the same message at the same time.
type handledOnce struct {
	t       *testing.T
	mu      sync.Mutex
	active  map[string]string // message ID -> member handling it
	handled map[string]int
	by      map[string]int // member -> messages handled
	changed chan struct{}
}

func (w *handledOnce) handler(member string) transport.Handler {
	return func(_ context.Context, m *transport.Message) error {
		w.mu.Lock()
		if other, busy := w.active[m.ID]; busy {
			w.t.Errorf("message %s handled by %s and %s at the same time", m.Payload, other, member)
		}
		w.active[m.ID] = member
		w.mu.Unlock()
		// Messages of key-0 take longer than a rebalance: the partition that
		// holds them is always busy, so moving it catches one in flight.
		if m.Key == "key-0" {
			time.Sleep(100 * time.Millisecond)
		} else {
			time.Sleep(time.Millisecond)
		}
		w.mu.Lock()
		delete(w.active, m.ID)
		w.handled[m.ID]++
		w.by[member]++
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
		return nil
	}
}

func (w *handledOnce) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.handled)
}

// TestGroupMembersJoinAndLeave: two members share a group; a third joins
// and one leaves while messages flow. Every message is handled, and never by
// two members at the same time.
func TestGroupMembersJoinAndLeave(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 6)
	group := brokertest.Name(t, "g")
	opts := []kafka.SubscriberOption{kafka.WithHeartbeatInterval(100 * time.Millisecond), kafka.WithCommitInterval(50 * time.Millisecond)}
	pub, err := kafka.NewPublisher(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	w := &handledOnce{t: t, active: map[string]string{}, handled: map[string]int{}, by: map[string]int{}, changed: make(chan struct{}, 1)}
	members := map[string]*transport.Subscription{}
	join := func(name string) {
		sub, err := kafka.NewSubscriber(brokers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Close() })
		s, err := sub.Subscribe(ctx, topic, w.handler(name), transport.WithGroup(group), transport.WithConcurrency(3))
		if err != nil {
			t.Fatalf("member %s: %v", name, err)
		}
		members[name] = s
	}
	join("A")
	join("B")

	const batches, perBatch = 40, 10
	published := make(chan error, 1)
	go func() {
		for b := range batches {
			msgs := make([]*transport.Message, perBatch)
			for i := range msgs {
				msgs[i] = &transport.Message{Key: fmt.Sprint("key-", i), Payload: []byte(fmt.Sprint(b, "/", i))}
			}
			if err := pub.Publish(ctx, topic, msgs...); err != nil {
				published <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		published <- nil
	}()

	waitCount := func(n int) {
		for w.count() < n {
			select {
			case <-w.changed:
			case <-ctx.Done():
				t.Fatalf("handled %d messages, want %d", w.count(), n)
			}
		}
	}
	waitCount(batches * perBatch / 4)
	join("C")
	waitCount(batches * perBatch / 2)
	if err := members["A"].Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	waitCount(batches * perBatch)
	for _, name := range []string{"B", "C"} {
		if err := members[name].Close(); err != nil {
			t.Fatal(err)
		}
	}
	dups := 0
	for _, n := range w.handled {
		dups += n - 1
	}
	// Handled again is allowed (at least once): a member giving up a
	// partition commits only its contiguous prefix of finished messages.
	t.Logf("%d messages handled, %d of them again after a rebalance; by member: %v", len(w.handled), dups, w.by)
}
