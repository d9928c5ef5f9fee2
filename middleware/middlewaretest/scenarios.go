package middlewaretest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/tracing"
	"github.com/brokerkit/brokerkit/transport"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// PoisonToDeadLetter publishes messages of which one always fails. The
// chain is DeadLetter (after 3 deliveries), Retry (2 attempts per delivery),
// Recoverer. The poison message must be handled 3 deliveries × 2 attempts,
// then reach the dead-letter topic with its ID, key, payload and metadata
// unchanged plus the dlq-* metadata, and be acknowledged; every other
// message must be handled.
func PoisonToDeadLetter(t *testing.T, h Harness) {
	const deliveries, attempts, messages = 3, 2, 20
	topic, dlqTopic := h.NewTopic(t), h.NewTopic(t)
	pub := h.publisher(t)
	sub := h.subscriber(t)

	var mu sync.Mutex
	var dead []*transport.Message
	h.subscribe(t, sub, dlqTopic, h.NewGroup(t), func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		dead = append(dead, m.Copy())
		mu.Unlock()
		return nil
	})

	dlq, err := middleware.DeadLetter(pub, middleware.DeadLetterAfter(deliveries),
		middleware.DeadLetterTopic(func(string) string { return dlqTopic }))
	if err != nil {
		t.Fatal(err)
	}
	retry, err := middleware.Retry(middleware.RetryMaxAttempts(attempts), middleware.RetryBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var handled counter     // successful handlings by message ID
	var poisonCalls counter // handler calls of the poison message, by attempt
	var maxAttempt int
	handle := func(_ context.Context, m *transport.Message) error {
		if m.Metadata.Get("poison") == "yes" {
			poisonCalls.add(strconv.Itoa(m.Attempt))
			mu.Lock()
			maxAttempt = max(maxAttempt, m.Attempt)
			mu.Unlock()
			panic("poison: cannot parse payload") // Recoverer makes it an error
		}
		handled.add(m.ID)
		return nil
	}
	h.subscribe(t, sub, topic, h.NewGroup(t), transport.Chain(handle, dlq, retry, middleware.Recoverer),
		transport.WithConcurrency(2))

	var poison *transport.Message
	var ids []string
	ctx, cancel := contextWithTimeout(h.Timeout)
	defer cancel()
	for i := range messages {
		m := &transport.Message{Key: fmt.Sprintf("key-%d", i), Payload: []byte(fmt.Sprintf("payload-%d", i)),
			Metadata: transport.Metadata{"n": strconv.Itoa(i)}}
		if i == messages/2 {
			m.Metadata["poison"] = "yes"
			m.Metadata["empty"] = ""
			poison = m
		}
		if err := pub.Publish(ctx, topic, m); err != nil {
			t.Fatalf("publish #%d: %v", i, err)
		}
		if m != poison {
			ids = append(ids, m.ID)
		}
	}

	h.waitFor(t, "the poison message on the dead-letter topic", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(dead) > 0
	})
	h.waitFor(t, "every good message handled", func() bool {
		for _, id := range ids {
			if handled.get(id) == 0 {
				return false
			}
		}
		return true
	})

	mu.Lock()
	d := dead[0]
	if len(dead) != 1 {
		t.Errorf("%d dead-lettered messages, want 1", len(dead))
	}
	gotMax := maxAttempt
	mu.Unlock()
	if d.ID != poison.ID || d.Key != poison.Key || string(d.Payload) != string(poison.Payload) {
		t.Errorf("dead-lettered %q/%q/%q, want the poison message %q/%q/%q unchanged",
			d.ID, d.Key, d.Payload, poison.ID, poison.Key, poison.Payload)
	}
	for k, v := range poison.Metadata {
		if got, ok := d.Metadata[k]; !ok || got != v {
			t.Errorf("dead-lettered metadata %q = %q, want %q", k, got, v)
		}
	}
	if got := d.Metadata.Get(middleware.MetaDLQTopic); got != topic {
		t.Errorf("%s = %q, want %q", middleware.MetaDLQTopic, got, topic)
	}
	if got := d.Metadata.Get(middleware.MetaDLQAttempt); got != strconv.Itoa(deliveries) {
		t.Errorf("%s = %q, want %d", middleware.MetaDLQAttempt, got, deliveries)
	}
	if got := d.Metadata.Get(middleware.MetaDLQReason); !strings.Contains(got, "poison: cannot parse payload") {
		t.Errorf("%s = %q, want the panic", middleware.MetaDLQReason, got)
	}
	if _, err := time.Parse(time.RFC3339Nano, d.Metadata.Get(middleware.MetaDLQTime)); err != nil {
		t.Errorf("%s: %v", middleware.MetaDLQTime, err)
	}
	if gotMax != deliveries {
		t.Errorf("poison message delivered up to attempt %d, want %d", gotMax, deliveries)
	}
	calls := poisonCalls.snapshot()
	for a := 1; a <= deliveries; a++ {
		if calls[strconv.Itoa(a)] != attempts {
			t.Errorf("poison delivery %d ran the handler %d times, want %d (Retry's attempts): %v",
				a, calls[strconv.Itoa(a)], attempts, calls)
		}
	}
	for _, id := range ids {
		if n := handled.get(id); n != 1 {
			t.Errorf("message %s handled %d times, want 1", id, n)
		}
	}
}

// DuplicatesHandledOnce publishes every message twice, with the same ID, as
// a producer retrying after a lost confirm does; one message's first
// handling fails. With Dedup (memory store) each message must be handled
// successfully exactly once, the failing one included, and every delivery
// acknowledged.
func DuplicatesHandledOnce(t *testing.T, h Harness) {
	const messages = 30
	topic := h.NewTopic(t)
	pub := h.publisher(t)
	sub := h.subscriber(t)
	store, err := middleware.NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	dedup, err := middleware.Dedup(store)
	if err != nil {
		t.Fatal(err)
	}
	var handled, calls, acked counter
	var ackedTotal int
	var mu sync.Mutex
	handle := func(_ context.Context, m *transport.Message) error {
		if m.Metadata.Get("flaky") == "yes" && calls.add(m.ID) == 1 {
			return errors.New("flaky: first handling fails")
		}
		handled.add(m.ID)
		return nil
	}
	countAcks := func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			err := next(ctx, m)
			if err == nil {
				acked.add(m.ID)
				mu.Lock()
				ackedTotal++
				mu.Unlock()
			}
			return err
		}
	}
	h.subscribe(t, sub, topic, h.NewGroup(t), transport.Chain(handle, countAcks, dedup), transport.WithConcurrency(4))

	ctx, cancel := contextWithTimeout(h.Timeout)
	defer cancel()
	var ids []string
	for i := range messages {
		m := &transport.Message{Key: fmt.Sprintf("key-%d", i%7), Payload: []byte(strconv.Itoa(i))}
		if i == 3 {
			m.Metadata = transport.Metadata{"flaky": "yes"}
		}
		if err := pub.Publish(ctx, topic, m); err != nil {
			t.Fatal(err)
		}
		twin := &transport.Message{ID: m.ID, Key: m.Key, Payload: m.Payload, Metadata: m.Metadata}
		if err := pub.Publish(ctx, topic, twin); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	h.waitFor(t, "both copies of every message acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ackedTotal >= 2*messages
	})
	for _, id := range ids {
		if n := handled.get(id); n != 1 {
			t.Errorf("message %s handled %d times, want 1", id, n)
		}
		if n := acked.get(id); n != 2 {
			t.Errorf("message %s: %d deliveries acknowledged, want 2", id, n)
		}
	}
}

// TraceFromPublishToHandler publishes through tracing.PublisherMiddleware and
// handles through tracing.Middleware: the consumer span must be in the
// producer span's trace, with the producer span as its parent, and the three
// latency histograms must have the message.
func TraceFromPublishToHandler(t *testing.T, h Harness) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	opts := []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithMeterProvider(mp), tracing.WithSystem(h.System)}
	pmw, err := tracing.PublisherMiddleware(opts...)
	if err != nil {
		t.Fatal(err)
	}
	topic, group := h.NewTopic(t), h.NewGroup(t)
	mw, err := tracing.Middleware(append(opts, tracing.WithGroup(group))...)
	if err != nil {
		t.Fatal(err)
	}
	pub := transport.ChainPublisher(h.publisher(t), pmw)
	sub := h.subscriber(t)
	got := make(chan trace.SpanContext, 1)
	h.subscribe(t, sub, topic, group, transport.Chain(func(ctx context.Context, m *transport.Message) error {
		select {
		case got <- trace.SpanContextFromContext(ctx):
		default:
		}
		return nil
	}, mw))

	ctx, cancel := contextWithTimeout(h.Timeout)
	defer cancel()
	m := &transport.Message{Key: "k", Payload: []byte("traced")}
	if err := pub.Publish(ctx, topic, m); err != nil {
		t.Fatal(err)
	}
	var handlerSpan trace.SpanContext
	select {
	case handlerSpan = <-got:
	case <-ctx.Done():
		t.Fatal("message not delivered")
	}
	var producer, consumer sdktrace.ReadOnlySpan
	h.waitFor(t, "the consumer span to end", func() bool {
		producer, consumer = nil, nil
		for _, s := range sr.Ended() {
			switch s.SpanKind() {
			case trace.SpanKindProducer:
				producer = s
			case trace.SpanKindConsumer:
				consumer = s
			}
		}
		return producer != nil && consumer != nil
	})
	if consumer.SpanContext().TraceID() != producer.SpanContext().TraceID() {
		t.Errorf("consumer span in trace %v, producer in %v: the trace does not run from publish to handler",
			consumer.SpanContext().TraceID(), producer.SpanContext().TraceID())
	}
	if consumer.Parent().SpanID() != producer.SpanContext().SpanID() {
		t.Errorf("consumer span's parent is %v, want the producer span %v", consumer.Parent().SpanID(), producer.SpanContext().SpanID())
	}
	if handlerSpan.SpanID() != consumer.SpanContext().SpanID() {
		t.Error("the handler's context does not carry the consumer span")
	}

	// The histograms are recorded once the handler returned, a moment after
	// the message was seen: wait for them.
	names := []string{tracing.ProcessDuration, tracing.TransmissionDuration, tracing.EndToEndDuration}
	var counts map[string]uint64
	h.waitFor(t, "the latency histograms", func() bool {
		counts = histogramCounts(t, reader)
		for _, name := range names {
			if counts[name] == 0 {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		if counts[name] != 1 {
			t.Errorf("histogram %s has %d values, want 1 (all: %v)", name, counts[name], counts)
		}
	}
}

func histogramCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]uint64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, met := range sm.Metrics {
			if hist, ok := met.Data.(metricdata.Histogram[float64]); ok {
				for _, dp := range hist.DataPoints {
					counts[met.Name] += dp.Count
				}
			}
		}
	}
	return counts
}
