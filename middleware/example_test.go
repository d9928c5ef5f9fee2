package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

// A chain in the recommended order, on the memory broker: a message whose
// payload cannot be parsed is dead-lettered at once (a Permanent error);
// its duplicate is skipped; the good one is handled.
func Example_chain() {
	ctx := context.Background()
	broker, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer broker.Close()

	store, _ := middleware.NewMemoryStore()
	dedup, _ := middleware.Dedup(store)
	dlq, _ := middleware.DeadLetter(broker, middleware.DeadLetterAfter(5))
	retry, _ := middleware.Retry(middleware.RetryMaxAttempts(3), middleware.RetryBackoff(time.Millisecond, 10*time.Millisecond))
	timeout, _ := middleware.Timeout(5 * time.Second)
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 1}))

	done := make(chan struct{}, 2)
	handle := func(_ context.Context, m *transport.Message) error {
		if string(m.Payload) == "garbage" {
			return transport.Permanent(errors.New("cannot parse payload"))
		}
		fmt.Printf("handled %s\n", m.Payload)
		done <- struct{}{}
		return nil
	}
	h := transport.Chain(handle,
		middleware.CorrelationID,
		middleware.Logging(quiet),
		dedup,
		dlq,
		retry,
		timeout,
		middleware.Recoverer,
	)
	dead := func(_ context.Context, m *transport.Message) error {
		fmt.Printf("dead-lettered %s from %s: %s\n", m.Payload, m.Metadata.Get(middleware.MetaDLQTopic),
			m.Metadata.Get(middleware.MetaDLQReason))
		done <- struct{}{}
		return nil
	}
	if _, err := broker.Subscribe(ctx, "orders.dlq", dead, transport.WithGroup("ops")); err != nil {
		panic(err)
	}
	if _, err := broker.Subscribe(ctx, "orders", h, transport.WithGroup("billing")); err != nil {
		panic(err)
	}
	_ = broker.Publish(ctx, "orders", &transport.Message{ID: "1", Payload: []byte("garbage")})
	<-done
	_ = broker.Publish(ctx, "orders", &transport.Message{ID: "2", Payload: []byte("order 2")})
	_ = broker.Publish(ctx, "orders", &transport.Message{ID: "2", Payload: []byte("order 2")}) // a duplicate
	<-done
	// Output:
	// dead-lettered garbage from orders: cannot parse payload
	// handled order 2
}

// The in-process latency recorder: no OpenTelemetry needed.
func ExampleLatencyRecorder() {
	rec, _ := middleware.NewLatencyRecorder()
	h := rec.Middleware(func(context.Context, *transport.Message) error { return nil })
	for range 100 {
		_ = h(context.Background(), &transport.Message{Topic: "orders", PublishedAt: time.Now()})
	}
	s := rec.Snapshot()["orders"]
	fmt.Println(s.Transmission.Count, s.Processing.Count, s.EndToEnd.Count, s.Failed)
	// Output: 100 100 100 0
}

func ExampleHistogram() {
	var h middleware.Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	s := h.Summary()
	// Quantiles are within 1.6% (HistogramPrecision); the maximum is exact.
	fmt.Println(s.Count, s.P50, s.P99, s.Max)
	// Output: 1000 499.122176ms 998.244352ms 1s
}
