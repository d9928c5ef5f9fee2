// Command quickstart publishes a few orders and handles them with two
// subscriber groups: "billing" shares its messages between two members and
// "audit" gets its own copy of every one. It runs on any broker URL:
//
//	go run ./examples/quickstart                          # in-memory
//	go run ./examples/quickstart -broker amqp://guest:guest@127.0.0.1:5672/
//	go run ./examples/quickstart -broker 'kafka://127.0.0.1:9092?partitions=3'
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	// Importing a backend registers its URL scheme.
	_ "github.com/brokerkit/brokerkit/amqp"
	_ "github.com/brokerkit/brokerkit/kafka"
	_ "github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

func main() {
	broker := flag.String("broker", "mem://", "broker URL")
	n := flag.Int("n", 6, "orders to publish")
	topic := flag.String("topic", fmt.Sprintf("quickstart.orders.%d", os.Getpid()), "topic to use")
	flag.Parse()
	if err := run(*broker, *topic, *n); err != nil {
		log.SetFlags(0)
		log.Fatal(err)
	}
}

func run(broker, topic string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pub, err := transport.OpenPublisher(ctx, broker)
	if err != nil {
		return err
	}
	defer pub.Close()
	sub, err := transport.OpenSubscriber(ctx, broker)
	if err != nil {
		return err
	}
	defer sub.Close()

	var out sync.Mutex
	var handled sync.WaitGroup
	handled.Add(2 * n) // every order once in billing, once in audit
	printer := func(who string) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			out.Lock()
			fmt.Printf("%-10s got %s (key %s, attempt %d): %s\n", who, m.Metadata.Get("kind"), m.Key, m.Attempt, m.Payload)
			out.Unlock()
			handled.Done()
			return nil
		}
	}
	for _, s := range []struct{ who, group string }{
		{"billing-1", "billing"}, {"billing-2", "billing"}, {"audit", "audit"},
	} {
		if _, err := sub.Subscribe(ctx, topic, printer(s.who), transport.WithGroup(s.group)); err != nil {
			return err
		}
	}

	for i := 1; i <= n; i++ {
		m := &transport.Message{
			Key:      fmt.Sprintf("customer-%d", i%3),
			Payload:  fmt.Appendf(nil, `{"order":%d}`, i),
			Metadata: transport.Metadata{"kind": "order.created"},
		}
		if err := pub.Publish(ctx, topic, m); err != nil {
			return err
		}
		fmt.Printf("published order %d as %s\n", i, m.ID)
	}

	done := make(chan struct{})
	go func() { handled.Wait(); close(done) }()
	select {
	case <-done:
		fmt.Println("all orders handled by billing and audit")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for handlers: %w", ctx.Err())
	}
}
