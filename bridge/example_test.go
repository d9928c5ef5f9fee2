package bridge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/brokerkit/brokerkit/bridge"
	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

// Forward a topic of one broker to another until the context ends. With
// real brokers, src would be a kafka:// subscriber and dst an amqp://
// publisher; a group makes a restarted bridge resume where it stopped.
func Example() {
	src, _ := memory.New()
	dst, _ := memory.New()
	defer src.Close()
	defer dst.Close()

	arrived := make(chan *transport.Message, 1)
	sub, _ := dst.Subscribe(context.Background(), "orders.copy", func(_ context.Context, m *transport.Message) error {
		select {
		case arrived <- m:
		default: // later copies: the example shows one
		}
		return nil
	})
	defer sub.Close()

	ctx, stop := context.WithCancel(context.Background())
	b, err := bridge.New(src, "orders", dst, "orders.copy", bridge.WithSubscribeOptions(transport.WithGroup("bridge")))
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	// Publish until the bridge's subscription is live.
	for sent := 0; ; sent++ {
		_ = src.Publish(context.Background(), "orders", &transport.Message{ID: fmt.Sprint("order-", sent), Key: "customer-7", Payload: []byte("42")})
		select {
		case m := <-arrived:
			fmt.Printf("%s: key %s, payload %s\n", m.Topic, m.Key, m.Payload)
			stop()
			fmt.Println("stopped:", <-done)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Output:
	// orders.copy: key customer-7, payload 42
	// stopped: <nil>
}

// WithTransform rewrites what is forwarded, or drops it (nil): here internal
// messages stay behind and the others are labelled with their origin.
// Counters tell what the bridge did.
func ExampleWithTransform() {
	src, _ := memory.New()
	dst, _ := memory.New()
	defer src.Close()
	defer dst.Close()

	arrived := make(chan *transport.Message, 1)
	sub, _ := dst.Subscribe(context.Background(), "events", func(_ context.Context, m *transport.Message) error {
		arrived <- m
		return nil
	})
	defer sub.Close()

	b, err := bridge.New(src, "orders", dst, "events",
		bridge.WithSubscribeOptions(transport.WithGroup("bridge")),
		bridge.WithTransform(func(m *transport.Message) *transport.Message {
			if m.Metadata.Get("visibility") == "internal" {
				return nil // acknowledged at the source, not forwarded
			}
			c := bridge.Copy(m)
			c.SetMetadata("origin", "orders")
			return c
		}))
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	<-b.Ready() // the bridge's subscription is live

	internal := &transport.Message{Payload: []byte("audit")}
	internal.SetMetadata("visibility", "internal")
	_ = src.Publish(context.Background(), "orders", internal, &transport.Message{Payload: []byte("order 7")})

	m := <-arrived
	fmt.Printf("%s from %s\n", m.Payload, m.Metadata.Get("origin"))
	stop()
	<-done
	c := b.Counters()
	fmt.Println("received", c.Received, "forwarded", c.Forwarded, "skipped", c.Skipped)
	// Output:
	// order 7 from orders
	// received 2 forwarded 1 skipped 1
}
