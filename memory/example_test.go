package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

func Example() {
	ctx := context.Background()
	b, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer b.Close()

	done := make(chan struct{})
	_, err = b.Subscribe(ctx, "orders", func(_ context.Context, m *transport.Message) error {
		if m.Attempt == 1 {
			return fmt.Errorf("first try fails") // delivered again, attempt 2
		}
		fmt.Printf("%s: %s (attempt %d)\n", m.Key, m.Payload, m.Attempt)
		close(done)
		return nil
	}, transport.WithGroup("billing"))
	if err != nil {
		panic(err)
	}
	err = b.Publish(ctx, "orders", &transport.Message{Key: "customer-7", Payload: []byte(`{"total":42}`)})
	if err != nil {
		panic(err)
	}
	<-done
	// Output: customer-7: {"total":42} (attempt 2)
}

// A broker's queues are bounded (WithCapacity): a publisher facing a full
// queue waits for room until its context ends, so that memory stays bounded
// and a slow consumer slows its publishers.
func ExampleWithCapacity() {
	b, err := memory.New(memory.WithCapacity(2))
	if err != nil {
		panic(err)
	}
	defer b.Close()
	s, _ := b.Subscribe(context.Background(), "orders", func(context.Context, *transport.Message) error { return nil },
		transport.WithGroup("billing"))
	_ = s.Close() // the group's queue stays, and nobody empties it

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = b.Publish(ctx, "orders", &transport.Message{ID: "a"}, &transport.Message{ID: "b"}, &transport.Message{ID: "c"})
	fmt.Println(errors.Is(err, context.DeadlineExceeded))

	st, _ := transport.Stats(context.Background(), b, "orders", "billing")
	fmt.Println("stored:", st.Backlog)
	// Output:
	// true
	// stored: 2
}

// "mem://NAME" reaches the process-wide broker called NAME, so parts of one
// program that only share a URL talk to each other; "mem://" is the broker
// without a name.
func Example_url() {
	ctx := context.Background()
	pub, _ := transport.OpenPublisher(ctx, "mem://example-url")
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-url")
	other, _ := transport.OpenSubscriber(ctx, "mem://another")
	defer pub.Close()
	defer sub.Close()
	defer other.Close()

	got := make(chan string, 1)
	s, _ := sub.Subscribe(ctx, "news", func(_ context.Context, m *transport.Message) error {
		got <- "example-url got " + string(m.Payload)
		return nil
	})
	defer s.Close()
	o, _ := other.Subscribe(ctx, "news", func(_ context.Context, m *transport.Message) error {
		got <- "another got " + string(m.Payload) // never: another broker
		return nil
	})
	defer o.Close()

	_ = pub.Publish(ctx, "news", &transport.Message{Payload: []byte("hello")})
	fmt.Println(<-got)
	// Output: example-url got hello
}
