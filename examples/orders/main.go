// Command orders is a small order service that runs unchanged on every
// broker, only its URL differing: it handles orders through retry,
// dead-lettering and deduplication, measures their latencies, and checks
// what it saw. Every order is published twice (a producer retrying after a
// lost confirm), so deduplication has work; one order is malformed and must
// end up on the dead-letter topic.
//
//	go run ./examples/orders                                  # in-memory
//	go run ./examples/orders -broker amqp://guest:guest@127.0.0.1:5672/
//	go run ./examples/orders -broker kafka://127.0.0.1:9092
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	_ "github.com/brokerkit/brokerkit/amqp"
	_ "github.com/brokerkit/brokerkit/kafka"
	_ "github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

func main() {
	broker := flag.String("broker", "mem://", "broker URL")
	topic := flag.String("topic", fmt.Sprintf("orders.%d", os.Getpid()), "topic to use")
	n := flag.Int("n", 20, "orders to publish (each twice), besides the malformed one")
	flag.Parse()
	if err := run(*broker, *topic, *n); err != nil {
		log.SetFlags(0)
		log.Fatal(err)
	}
}

var errMalformed = errors.New("malformed order")

func run(broker, topic string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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

	// The service: a handler and the middleware around it.
	var (
		mu      sync.Mutex
		handled = map[string]int{} // order payload → handlings
		dead    []*transport.Message
		changed = make(chan struct{}, 1)
	)
	note := func(f func()) {
		mu.Lock()
		f()
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handle := func(ctx context.Context, m *transport.Message) error {
		if string(m.Payload) == "malformed" {
			return transport.Permanent(errMalformed) // no retry will fix it
		}
		note(func() { handled[string(m.Payload)]++ })
		return nil
	}
	latency, err := middleware.NewLatencyRecorder()
	if err != nil {
		return err
	}
	store, err := middleware.NewMemoryStore()
	if err != nil {
		return err
	}
	dedup, err := middleware.Dedup(store)
	if err != nil {
		return err
	}
	deadLetter, err := middleware.DeadLetter(pub, middleware.DeadLetterAfter(3))
	if err != nil {
		return err
	}
	retry, err := middleware.Retry(middleware.RetryMaxAttempts(3), middleware.RetryBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		return err
	}
	h := transport.Chain(handle, latency.Middleware, dedup, deadLetter, retry, middleware.Recoverer)

	orders, err := sub.Subscribe(ctx, topic, h, transport.WithGroup("orders"), transport.WithConcurrency(4))
	if err != nil {
		return err
	}
	defer orders.Close()
	dlq, err := sub.Subscribe(ctx, topic+".dlq", func(_ context.Context, m *transport.Message) error {
		note(func() { dead = append(dead, m) })
		return nil
	}, transport.WithGroup("dead-letters"))
	if err != nil {
		return err
	}
	defer dlq.Close()

	// Publish every order twice, with the same ID, as a producer does that
	// retries after losing a confirm.
	started := time.Now()
	for i := range n + 1 {
		m := &transport.Message{
			Key:      fmt.Sprintf("customer-%d", i%4),
			Payload:  fmt.Appendf(nil, "order-%d", i),
			Metadata: transport.Metadata{transport.MetaContentType: "text/plain"},
		}
		if i == n {
			m.Payload = []byte("malformed")
		}
		for range 2 {
			if err := pub.Publish(ctx, topic, m); err != nil {
				return fmt.Errorf("publishing %s: %w", m.Payload, err)
			}
		}
	}

	// Wait for every order and the dead letter.
	complete := func() bool { return len(handled) == n && len(dead) >= 1 }
	for {
		mu.Lock()
		done := complete()
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("after %v: %d of %d orders handled, %d dead letters", time.Since(started), len(handled), n, len(dead))
		}
	}
	orders.Close() // the latency figures are final once the handlers returned
	elapsed := time.Since(started)

	mu.Lock()
	defer mu.Unlock()
	for order, times := range handled {
		if times != 1 {
			return fmt.Errorf("%s handled %d times, want once", order, times)
		}
	}
	if reason := dead[0].Metadata.Get(middleware.MetaDLQReason); string(dead[0].Payload) != "malformed" || reason == "" {
		return fmt.Errorf("dead letter %q with reason %q, want the malformed order with a reason", dead[0].Payload, reason)
	}
	fmt.Printf("handled %d orders once each (each published twice), dead-lettered %q: %s\n",
		n, dead[0].Payload, dead[0].Metadata.Get(middleware.MetaDLQReason))

	lat := latency.Snapshot()[topic]
	fmt.Printf("latency over %d handlings, in %v:\n", lat.Processing.Count, elapsed.Truncate(time.Microsecond))
	for _, row := range []struct {
		name string
		s    middleware.Summary
	}{{"transmission", lat.Transmission}, {"processing", lat.Processing}, {"end to end", lat.EndToEnd}} {
		fmt.Printf("  %-12s p50 %-10v p99 %-10v max %v\n", row.name, row.s.P50, row.s.P99, row.s.Max)
	}
	// No message can have taken longer from publish to handled than the
	// whole run. A coarse publish time (whole seconds) would break this.
	// Allowed: the histogram's precision and the broker's millisecond.
	if bound := elapsed + elapsed*2/100 + time.Millisecond; lat.EndToEnd.Max > bound || lat.EndToEnd.Count == 0 {
		return fmt.Errorf("end-to-end latency max %v (of %d) exceeds the run's %v: the publish times are wrong",
			lat.EndToEnd.Max, lat.EndToEnd.Count, elapsed)
	}
	return nil
}
