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
