package middleware_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/tracing"
	"github.com/brokerkit/brokerkit/transport"
)

// otelSetups are the tracing configurations benchmarked: OpenTelemetry's
// no-op providers (what an application that set none up gets) and the SDK
// sampling every span and aggregating every histogram, with nothing
// exported.
func otelSetups(b *testing.B) map[string][]tracing.Option {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return map[string][]tracing.Option{
		"otel-noop": {tracing.WithTracerProvider(tracenoop.NewTracerProvider()), tracing.WithMeterProvider(metricnoop.NewMeterProvider())},
		"otel-sdk":  {tracing.WithTracerProvider(tp), tracing.WithMeterProvider(mp)},
	}
}

// fullChain is recover, trace, retry and dedup on a MemoryStore, in the
// order docs/middleware.md recommends.
func fullChain(b *testing.B, h transport.Handler, opts []tracing.Option) transport.Handler {
	trace, err := tracing.Middleware(append(opts, tracing.WithSystem("memory"))...)
	if err != nil {
		b.Fatal(err)
	}
	store, err := middleware.NewMemoryStore(middleware.MemoryStoreSize(1 << 12))
	if err != nil {
		b.Fatal(err)
	}
	dedup, err := middleware.Dedup(store)
	if err != nil {
		b.Fatal(err)
	}
	retry, err := middleware.Retry()
	if err != nil {
		b.Fatal(err)
	}
	return transport.Chain(h, trace, dedup, retry, middleware.Recoverer)
}

// messages returns n messages with distinct IDs, as published through the
// tracing publisher middleware (trace context and publish time in their
// metadata), so that the handler side has real work to do.
func messages(b *testing.B, n int, opts []tracing.Option) []*transport.Message {
	pmw, err := tracing.PublisherMiddleware(opts...)
	if err != nil {
		b.Fatal(err)
	}
	var out []*transport.Message
	sink := transport.PublisherFunc(func(_ context.Context, topic string, msgs ...*transport.Message) error {
		for _, m := range msgs {
			c := m.Copy()
			c.Topic, c.Attempt, c.PublishedAt = topic, 1, time.Now()
			out = append(out, c)
		}
		return nil
	})
	pub := pmw(sink)
	for i := range n {
		if err := pub.Publish(context.Background(), "orders", &transport.Message{
			ID: "msg-" + strconv.Itoa(i), Key: "k", Payload: []byte("payload")}); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// ring is how many distinct messages BenchmarkChain cycles through: twice
// what the dedup store holds, so every ID was evicted before it comes back.
const ring = 1 << 13

// BenchmarkChain calls the handler directly, bare and wrapped in the full
// chain, to show what the middleware cost per message. IDs cycle through
// ring messages while the dedup store holds 4096, so every handling is a
// first one (claim, handle, mark done, evict the oldest key).
func BenchmarkChain(b *testing.B) {
	var handled atomic.Int64
	h := func(context.Context, *transport.Message) error {
		handled.Add(1)
		return nil
	}
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		msgs := messages(b, ring, otelSetups(b)["otel-noop"])
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = h(ctx, msgs[i&(ring-1)])
		}
	})
	for _, name := range []string{"otel-noop", "otel-sdk"} {
		b.Run("full/"+name, func(b *testing.B) {
			opts := otelSetups(b)[name]
			msgs := messages(b, ring, opts)
			chained := fullChain(b, h, opts)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := chained(ctx, msgs[i&(ring-1)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemoryEndToEnd publishes b.N messages, one per Publish call, on
// the memory backend and waits until all were handled: bare, and with the
// full chain on the handler and the tracing middleware on the publisher.
func BenchmarkMemoryEndToEnd(b *testing.B) {
	run := func(b *testing.B, pub transport.Publisher, broker *memory.Broker, wrap func(transport.Handler) transport.Handler) {
		var handled atomic.Int64
		done := make(chan struct{})
		target := int64(b.N)
		h := wrap(func(context.Context, *transport.Message) error {
			if handled.Add(1) == target {
				close(done)
			}
			return nil
		})
		topic := "bench-" + strconv.Itoa(b.N)
		sub, err := broker.Subscribe(context.Background(), topic, h, transport.WithGroup("g"))
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		ctx := context.Background()
		payload := []byte("payload")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := pub.Publish(ctx, topic, &transport.Message{Key: "k" + strconv.Itoa(i&7), Payload: payload}); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	}
	b.Run("bare", func(b *testing.B) {
		broker, err := memory.New()
		if err != nil {
			b.Fatal(err)
		}
		defer broker.Close()
		run(b, broker, broker, func(h transport.Handler) transport.Handler { return h })
	})
	for _, name := range []string{"otel-noop", "otel-sdk"} {
		b.Run("full/"+name, func(b *testing.B) {
			broker, err := memory.New()
			if err != nil {
				b.Fatal(err)
			}
			defer broker.Close()
			opts := otelSetups(b)[name]
			pmw, err := tracing.PublisherMiddleware(opts...)
			if err != nil {
				b.Fatal(err)
			}
			run(b, pmw(broker), broker, func(h transport.Handler) transport.Handler { return fullChain(b, h, opts) })
		})
	}
}

// BenchmarkEach measures one middleware at a time around a no-op handler.
func BenchmarkEach(b *testing.B) {
	h := func(context.Context, *transport.Message) error { return nil }
	must := func(mw transport.Middleware, err error) transport.Middleware {
		if err != nil {
			b.Fatal(err)
		}
		return mw
	}
	store, err := middleware.NewMemoryStore(middleware.MemoryStoreSize(1 << 12))
	if err != nil {
		b.Fatal(err)
	}
	rec, err := middleware.NewLatencyRecorder()
	if err != nil {
		b.Fatal(err)
	}
	lim, err := middleware.NewConcurrencyLimiter(4)
	if err != nil {
		b.Fatal(err)
	}
	setups := otelSetups(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, c := range []struct {
		name string
		mw   transport.Middleware
		otel []tracing.Option
	}{
		{"none", func(h transport.Handler) transport.Handler { return h }, nil},
		{"Recoverer", middleware.Recoverer, nil},
		{"Retry", must(middleware.Retry()), nil},
		{"Timeout", must(middleware.Timeout(time.Second)), nil},
		{"Dedup/memory", must(middleware.Dedup(store)), nil},
		{"DeadLetter", must(middleware.DeadLetter(transport.PublisherFunc(
			func(context.Context, string, ...*transport.Message) error { return nil }))), nil},
		{"CorrelationID", middleware.CorrelationID, nil},
		{"ConcurrencyLimiter", lim.Middleware, nil},
		{"Logging/debug-off", middleware.Logging(quiet), nil},
		{"LatencyRecorder", rec.Middleware, nil},
		{"tracing/otel-noop", must(tracing.Middleware(setups["otel-noop"]...)), setups["otel-noop"]},
		{"tracing/otel-sdk", must(tracing.Middleware(setups["otel-sdk"]...)), setups["otel-sdk"]},
	} {
		b.Run(c.name, func(b *testing.B) {
			opts := c.otel
			if opts == nil {
				opts = setups["otel-noop"]
			}
			msgs := messages(b, ring, opts)
			chained := c.mw(h)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := chained(ctx, msgs[i&(ring-1)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
