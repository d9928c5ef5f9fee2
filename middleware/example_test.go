package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
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

// Retry tries the handler again in process, with backoff, before the
// message goes back to the broker; OnRetry sees each failed attempt.
func ExampleRetry() {
	retry, err := middleware.Retry(
		middleware.RetryMaxAttempts(3),
		middleware.RetryBackoff(time.Millisecond, 5*time.Millisecond),
		middleware.OnRetry(func(_ context.Context, _ *transport.Message, attempt int, err error, _ time.Duration) {
			fmt.Printf("attempt %d failed: %v\n", attempt, err)
		}),
	)
	if err != nil {
		panic(err)
	}
	calls := 0
	h := transport.Chain(func(context.Context, *transport.Message) error {
		calls++
		if calls < 3 {
			return errors.New("database busy")
		}
		fmt.Println("handled on call", calls)
		return nil
	}, retry)

	fmt.Println(h(context.Background(), &transport.Message{ID: "1"}))

	// A Permanent error is not retried.
	h = transport.Chain(func(context.Context, *transport.Message) error {
		return transport.Permanent(errors.New("bad payload"))
	}, retry)
	fmt.Println(h(context.Background(), &transport.Message{ID: "2"}))
	// Output:
	// attempt 1 failed: database busy
	// attempt 2 failed: database busy
	// handled on call 3
	// <nil>
	// bad payload
}

// DeadLetter publishes a message that keeps failing to "<topic>.dlq" and
// acknowledges the original. Any Publisher does: here one that prints.
func ExampleDeadLetter() {
	dlqPub := transport.PublisherFunc(func(_ context.Context, topic string, msgs ...*transport.Message) error {
		for _, m := range msgs {
			fmt.Printf("to %s: %s (reason %q, attempt %s)\n", topic, m.Payload,
				m.Metadata.Get(middleware.MetaDLQReason), m.Metadata.Get(middleware.MetaDLQAttempt))
		}
		return nil
	})
	dlq, err := middleware.DeadLetter(dlqPub, middleware.DeadLetterAfter(3))
	if err != nil {
		panic(err)
	}
	h := transport.Chain(func(context.Context, *transport.Message) error {
		return errors.New("downstream refused")
	}, dlq)

	for attempt := 1; attempt <= 3; attempt++ {
		err := h(context.Background(), &transport.Message{ID: "7", Topic: "orders", Payload: []byte("order 7"), Attempt: attempt})
		fmt.Printf("attempt %d: %v\n", attempt, err)
	}
	// Output:
	// attempt 1: downstream refused
	// attempt 2: downstream refused
	// to orders.dlq: order 7 (reason "downstream refused", attempt 3)
	// attempt 3: <nil>
}

// Dedup handles each message ID once. A failed handling does not count,
// so its redelivery is handled.
func ExampleDedup() {
	store, err := middleware.NewMemoryStore()
	if err != nil {
		panic(err)
	}
	dedup, err := middleware.Dedup(store)
	if err != nil {
		panic(err)
	}
	fail := true
	h := transport.Chain(func(_ context.Context, m *transport.Message) error {
		if fail {
			fail = false
			return errors.New("first try fails")
		}
		fmt.Println("handled", m.ID)
		return nil
	}, dedup)

	ctx := context.Background()
	fmt.Println(h(ctx, &transport.Message{ID: "order-1"}))
	fmt.Println(h(ctx, &transport.Message{ID: "order-1"})) // the redelivery
	fmt.Println(h(ctx, &transport.Message{ID: "order-1"})) // a duplicate: skipped
	// Output:
	// first try fails
	// handled order-1
	// <nil>
	// <nil>
}

// Timeout gives each handling a deadline through its context; a handler that
// honours its context returns context.DeadlineExceeded, which is retried.
func ExampleTimeout() {
	timeout, err := middleware.Timeout(10 * time.Millisecond)
	if err != nil {
		panic(err)
	}
	h := transport.Chain(func(ctx context.Context, _ *transport.Message) error {
		<-ctx.Done() // a call that takes too long
		return ctx.Err()
	}, timeout)

	err = h(context.Background(), &transport.Message{})
	fmt.Println(errors.Is(err, context.DeadlineExceeded), transport.Retryable(err))
	// Output: true true
}

// Recoverer turns a panic into a *transport.PanicError that the middleware
// outside it (Retry, DeadLetter, Logging) see as an error.
func ExampleRecoverer() {
	h := transport.Chain(func(context.Context, *transport.Message) error {
		panic("nil map")
	}, middleware.Recoverer)

	err := h(context.Background(), &transport.Message{})
	var p *transport.PanicError
	fmt.Println(errors.As(err, &p), p.Value)
	// Output: true nil map
}

// CorrelationID puts the consumed message's correlation ID into the
// handler's context, and CorrelatePublisher stamps it on what the handler
// publishes, so that the ID flows on from message to message.
func ExampleCorrelationID() {
	out := transport.PublisherFunc(func(_ context.Context, topic string, msgs ...*transport.Message) error {
		for _, m := range msgs {
			fmt.Printf("published to %s with %s=%s\n", topic, middleware.MetaCorrelationID,
				m.Metadata.Get(middleware.MetaCorrelationID))
		}
		return nil
	})
	pub := middleware.CorrelatePublisher(out)

	h := transport.Chain(func(ctx context.Context, m *transport.Message) error {
		fmt.Println("handling with", middleware.CorrelationIDFrom(ctx))
		return pub.Publish(ctx, "invoices", &transport.Message{Payload: m.Payload})
	}, middleware.CorrelationID)

	in := &transport.Message{ID: "order-7", Payload: []byte("42")}
	in.SetMetadata(middleware.MetaCorrelationID, "checkout-1")
	_ = h(context.Background(), in)

	// A message without one starts a conversation: its ID is the
	// correlation ID.
	_ = h(context.Background(), &transport.Message{ID: "order-8"})
	// Output:
	// handling with checkout-1
	// published to invoices with correlation-id=checkout-1
	// handling with order-8
	// published to invoices with correlation-id=order-8
}

// Logging writes one record per handling: Debug on success, Warn for an
// error worth retrying, Error for a permanent one. The handler here drops the
// time and duration so that the output is stable.
func ExampleLogging() {
	stable := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "duration" {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: stable}))

	h := transport.Chain(func(_ context.Context, m *transport.Message) error {
		switch m.ID {
		case "2":
			return errors.New("database busy")
		case "3":
			return transport.Permanent(errors.New("bad payload"))
		}
		return nil
	}, middleware.Logging(logger))

	for _, id := range []string{"1", "2", "3"} {
		_ = h(context.Background(), &transport.Message{ID: id, Topic: "orders", Attempt: 1})
	}
	// Output:
	// level=DEBUG msg="message handled" topic=orders id=1 attempt=1
	// level=WARN msg="message handling failed" topic=orders id=2 attempt=1 error="database busy" code=Unknown
	// level=ERROR msg="message handling failed" topic=orders id=3 attempt=1 error="bad payload" code=Permanent
}

// StampPublishTime records when a message was published, from the
// publisher's clock, for LatencyRecorder to measure transmission latency on
// backends that carry no timestamp of their own.
func ExampleStampPublishTime() {
	sink := transport.PublisherFunc(func(_ context.Context, _ string, msgs ...*transport.Message) error {
		_, ok := middleware.PublishTime(msgs[0])
		fmt.Println("stamped:", ok)
		return nil
	})
	pub := middleware.StampPublishTime(sink)
	_ = pub.Publish(context.Background(), "orders", &transport.Message{})

	// Stamp is the same work, with a clock of the caller's.
	m := &transport.Message{}
	middleware.Stamp(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), []*transport.Message{m})
	at, _ := middleware.PublishTime(m)
	fmt.Println(at.UTC())
	// Output:
	// stamped: true
	// 2026-11-29 12:00:00 +0000 UTC
}

// A ConcurrencyLimiter bounds the handlings running at once across every
// subscription whose handler it wraps, for a scarce resource such as a
// database pool.
func ExampleConcurrencyLimiter() {
	limiter, err := middleware.NewConcurrencyLimiter(2)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	most := 0
	h := limiter.Middleware(func(context.Context, *transport.Message) error {
		mu.Lock()
		most = max(most, limiter.InUse())
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	})

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _ = h(context.Background(), &transport.Message{}) })
	}
	wg.Wait()
	fmt.Println("at most 2 at once:", most <= 2, "now:", limiter.InUse())
	// Output: at most 2 at once: true now: 0
}

// A RateLimiter is a token bucket shared by handlers and publishers: here
// at most 1000 messages a second, in bursts of up to 10.
func ExampleRateLimiter() {
	limiter, err := middleware.NewRateLimiter(1000, 10)
	if err != nil {
		panic(err)
	}
	handled := 0
	h := limiter.Middleware(func(context.Context, *transport.Message) error {
		handled++
		return nil
	})
	for range 20 {
		_ = h(context.Background(), &transport.Message{})
	}
	fmt.Println(handled)

	_, err = middleware.NewRateLimiter(0, 10)
	fmt.Println(errors.Is(err, transport.ErrInvalid))
	// Output:
	// 20
	// true
}
