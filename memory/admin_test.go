package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

func TestAdminErrors(t *testing.T) {
	ctx := context.Background()
	b, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.GroupStats(ctx, "nothing", "g"); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("GroupStats of an unknown group: %v, want ErrNotFound", err)
	}
	if _, err := b.Purge(ctx, "nothing", "g"); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("Purge of an unknown group: %v, want ErrNotFound", err)
	}
	if err := b.DeleteTopic(ctx, "nothing"); err != nil {
		t.Fatalf("DeleteTopic of an unknown topic: %v", err)
	}
	b.Close()
	if _, err := b.GroupStats(ctx, "t", "g"); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("GroupStats after Close: %v, want ErrClosed", err)
	}
	if err := b.CreateTopic(ctx, "t", transport.TopicSpec{}); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("CreateTopic after Close: %v, want ErrClosed", err)
	}
}

// TestDeleteTopicEndsSubscriptions: deleting a topic drops its queues, and
// the subscriptions on it end rather than wait forever.
func TestDeleteTopicEndsSubscriptions(t *testing.T) {
	ctx := context.Background()
	b, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.Subscribe(ctx, "t", func(context.Context, *transport.Message) error { return nil }, transport.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := b.GroupStats(ctx, "t", "g"); err != nil || st.Consumers != 1 {
		t.Fatalf("GroupStats: %+v, %v; want one consumer", st, err)
	}
	if err := b.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(time.Minute):
		t.Fatal("the subscription did not end")
	}
	if _, err := b.GroupStats(ctx, "t", "g"); !errors.Is(err, transport.ErrNotFound) {
		t.Fatalf("GroupStats after DeleteTopic: %v, want ErrNotFound", err)
	}
}

// A group's backlog: what it has not finished, and purging it.
func ExampleBroker_GroupStats() {
	ctx := context.Background()
	b, _ := memory.New()
	defer b.Close()

	// The group exists from its first subscription on; it then keeps what
	// is published while none of its members runs.
	s, _ := b.Subscribe(ctx, "jobs", func(context.Context, *transport.Message) error { return nil },
		transport.WithGroup("workers"))
	s.Close()
	for range 3 {
		b.Publish(ctx, "jobs", &transport.Message{Payload: []byte("job")})
	}

	st, _ := transport.Stats(ctx, b, "jobs", "workers")
	fmt.Println("backlog:", st.Backlog, "consumers:", st.Consumers)
	n, _ := transport.Purge(ctx, b, "jobs", "workers")
	st, _ = transport.Stats(ctx, b, "jobs", "workers")
	fmt.Println("purged:", n, "backlog:", st.Backlog)
	// Output:
	// backlog: 3 consumers: 0
	// purged: 3 backlog: 0
}
