package tracing_test

import (
	"context"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware/tracing"
	"github.com/brokerkit/brokerkit/transport"
)

// One trace from Publish to the handler: a producer span on the way out, a
// consumer span, its child, on the way in, and latency histograms. The
// providers here record in memory, so that the example can print what was
// recorded; a service would pass its own (or set the OpenTelemetry globals).
func Example() {
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	opts := []tracing.Option{
		tracing.WithTracerProvider(tp),
		tracing.WithMeterProvider(mp),
		tracing.WithPropagator(propagation.TraceContext{}),
		tracing.WithSystem("memory"),
	}

	broker, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer broker.Close()
	pubMW, err := tracing.PublisherMiddleware(opts...)
	if err != nil {
		panic(err)
	}
	pub := transport.ChainPublisher(broker, pubMW)
	mw, err := tracing.Middleware(append(opts, tracing.WithGroup("billing"))...)
	if err != nil {
		panic(err)
	}

	handled := make(chan struct{})
	s, err := broker.Subscribe(ctx, "orders", transport.Chain(func(context.Context, *transport.Message) error {
		close(handled)
		return nil
	}, mw), transport.WithGroup("billing"))
	if err != nil {
		panic(err)
	}
	if err := pub.Publish(ctx, "orders", &transport.Message{Payload: []byte("42")}); err != nil {
		panic(err)
	}
	<-handled
	_ = s.Close() // waits for the handling, and so for its span to end

	// The consumer span may end before the producer's: Publish returns
	// after the broker stored the message, which a handler may have taken
	// already. So they are printed by kind, not in the order they ended.
	var producer, consumer tracetest.SpanStub
	for _, sp := range spans.GetSpans() {
		switch sp.SpanKind {
		case trace.SpanKindProducer:
			producer = sp
		case trace.SpanKindConsumer:
			consumer = sp
		}
	}
	fmt.Println(producer.Name, producer.SpanKind)
	fmt.Println(consumer.Name, consumer.SpanKind)
	fmt.Println("one trace:", producer.SpanContext.TraceID() == consumer.SpanContext.TraceID())
	fmt.Println("consumer's parent is the producer:", consumer.Parent.SpanID() == producer.SpanContext.SpanID())

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// send orders producer
	// process orders consumer
	// one trace: true
	// consumer's parent is the producer: true
	// brokerkit.messaging.end_to_end.duration
	// brokerkit.messaging.transmission.duration
	// messaging.process.duration
}

// BacklogGauge reports the backlog of groups as an OpenTelemetry gauge, read
// whenever the meter provider collects: here three messages a closed
// subscription left in the memory broker's "billing" queue.
func ExampleBacklogGauge() {
	ctx := context.Background()
	broker, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer broker.Close()
	s, _ := broker.Subscribe(ctx, "orders", func(context.Context, *transport.Message) error { return nil },
		transport.WithGroup("billing"))
	_ = s.Close()
	for range 3 {
		_ = broker.Publish(ctx, "orders", &transport.Message{Payload: []byte("42")})
	}

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	reg, err := tracing.BacklogGauge(broker, []tracing.GroupRef{{Topic: "orders", Group: "billing"}},
		tracing.WithMeterProvider(mp))
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				group, _ := p.Attributes.Value("messaging.consumer.group.name")
				fmt.Println(m.Name, group.AsString(), p.Value)
			}
		}
	}
	// Output: brokerkit.messaging.consumer.backlog billing 3
}
