package tracing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

// loopback is a publisher that hands what it takes to a handler, as a
// broker would, after copying it (a broker carries bytes, not pointers).
type loopback struct {
	mu      sync.Mutex
	handler transport.Handler
	errs    []error // handler results
	fail    map[int]bool
}

func (l *loopback) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	var pe transport.PublishError
	for i, m := range msgs {
		if l.fail[i] {
			pe.Failed = append(pe.Failed, transport.FailedMessage{Index: i, ID: m.ID, Err: transport.ErrNotConfirmed})
			continue
		}
		d := m.Copy()
		d.Topic, d.Attempt = topic, 1
		// A fresh context: nothing but metadata crosses a broker.
		err := l.handler(context.Background(), d)
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
	}
	if len(pe.Failed) > 0 {
		return &pe
	}
	return nil
}

func (l *loopback) Close() error { return nil }

type otelEnv struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	opts   []Option
}

func newOtelEnv(t *testing.T, extra ...Option) *otelEnv {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return &otelEnv{spans: sr, reader: reader,
		opts: append([]Option{WithTracerProvider(tp), WithMeterProvider(mp), WithSystem("memory")}, extra...)}
}

func (e *otelEnv) chain(t *testing.T, h transport.Handler) (transport.Publisher, *loopback) {
	t.Helper()
	mw, err := Middleware(append(e.opts, WithGroup("billing"))...)
	if err != nil {
		t.Fatal(err)
	}
	pmw, err := PublisherMiddleware(e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	lb := &loopback{handler: transport.Chain(h, mw)}
	return transport.ChainPublisher(lb, pmw), lb
}

func spanByKind(t *testing.T, spans []sdktrace.ReadOnlySpan, kind trace.SpanKind) []sdktrace.ReadOnlySpan {
	t.Helper()
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

func hasAttr(s sdktrace.ReadOnlySpan, kv attribute.KeyValue) bool {
	for _, a := range s.Attributes() {
		if a == kv {
			return true
		}
	}
	return false
}

func TestTraceRunsFromPublishToHandler(t *testing.T) {
	env := newOtelEnv(t)
	var seen *transport.Message
	var handlerSpan trace.SpanContext
	pub, _ := env.chain(t, func(ctx context.Context, m *transport.Message) error {
		seen = m
		handlerSpan = trace.SpanContextFromContext(ctx)
		return nil
	})
	m := &transport.Message{Key: "k", Payload: []byte("x")}
	if err := pub.Publish(context.Background(), "orders", m); err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.Metadata.Get("traceparent") == "" || seen.Metadata.Get(middleware.MetaPublishedAt) == "" {
		t.Fatalf("delivered metadata %v lacks traceparent or %s", seen.Metadata, middleware.MetaPublishedAt)
	}
	spans := env.spans.Ended()
	prod, cons := spanByKind(t, spans, trace.SpanKindProducer), spanByKind(t, spans, trace.SpanKindConsumer)
	if len(prod) != 1 || len(cons) != 1 {
		t.Fatalf("%d producer and %d consumer spans, want 1 and 1", len(prod), len(cons))
	}
	p, c := prod[0], cons[0]
	if c.SpanContext().TraceID() != p.SpanContext().TraceID() {
		t.Error("consumer span is not in the producer's trace")
	}
	if c.Parent().SpanID() != p.SpanContext().SpanID() || !c.Parent().IsRemote() {
		t.Errorf("consumer span's parent %v, want the producer span %v (remote)", c.Parent().SpanID(), p.SpanContext().SpanID())
	}
	if handlerSpan.SpanID() != c.SpanContext().SpanID() {
		t.Error("the handler's context does not carry the consumer span")
	}
	if p.Name() != "send orders" || c.Name() != "process orders" {
		t.Errorf("span names %q, %q", p.Name(), c.Name())
	}
	for _, want := range []attribute.KeyValue{
		attribute.String("messaging.destination.name", "orders"),
		attribute.String("messaging.system", "memory"),
		attribute.String("messaging.message.id", m.ID),
	} {
		if !hasAttr(p, want) || !hasAttr(c, want) {
			t.Errorf("attribute %v missing on a span", want)
		}
	}
	if !hasAttr(c, attribute.String("messaging.consumer.group.name", "billing")) {
		t.Error("consumer span lacks the group")
	}
	if c.Status().Code == codes.Error {
		t.Error("successful handling marked failed")
	}
}

func TestHandlerPublishesJoinTheTrace(t *testing.T) {
	env := newOtelEnv(t)
	var downstream transport.Publisher
	pub, _ := env.chain(t, func(ctx context.Context, m *transport.Message) error {
		if m.Topic == "orders" {
			return downstream.Publish(ctx, "invoices", &transport.Message{})
		}
		return nil
	})
	downstream = pub
	if err := pub.Publish(context.Background(), "orders", &transport.Message{}); err != nil {
		t.Fatal(err)
	}
	spans := env.spans.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want send, process, send, process", len(spans))
	}
	trace0 := spans[0].SpanContext().TraceID()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanContext().TraceID() != trace0 {
			t.Errorf("span %s in another trace", s.Name())
		}
		byName[s.Name()] = s
	}
	if byName["send invoices"].Parent().SpanID() != byName["process orders"].SpanContext().SpanID() {
		t.Error("a message published by a handler is not a child of the handling's span")
	}
}

func TestFailedHandlingMarksSpanAndOutcome(t *testing.T) {
	env := newOtelEnv(t)
	pub, lb := env.chain(t, func(context.Context, *transport.Message) error {
		return transport.Permanent(errors.New("bad payload"))
	})
	if err := pub.Publish(context.Background(), "orders", &transport.Message{}); err != nil {
		t.Fatal(err)
	}
	if len(lb.errs) != 1 || lb.errs[0] == nil {
		t.Fatalf("handler error not passed on: %v", lb.errs)
	}
	c := spanByKind(t, env.spans.Ended(), trace.SpanKindConsumer)[0]
	if c.Status().Code != codes.Error || len(c.Events()) == 0 || c.Events()[0].Name != "exception" {
		t.Errorf("failed handling: status %v, events %v; want Error and a recorded exception", c.Status(), c.Events())
	}
	if !hasAttr(c, attribute.String("error.type", "Permanent")) {
		t.Error("consumer span lacks error.type")
	}
	h := histogram(t, env.reader, ProcessDuration)
	if len(h.DataPoints) != 1 {
		t.Fatalf("%d data points", len(h.DataPoints))
	}
	attrs := h.DataPoints[0].Attributes
	if v, _ := attrs.Value("brokerkit.outcome"); v.AsString() != "error" {
		t.Errorf("outcome %v, want error", v.AsString())
	}
	if v, _ := attrs.Value("error.type"); v.AsString() != "Permanent" {
		t.Errorf("error.type %v, want Permanent", v.AsString())
	}
}

func histogram(t *testing.T, r *sdkmetric.ManualReader, name string) metricdata.Histogram[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				if m.Unit != "s" {
					t.Errorf("%s unit %q, want s", name, m.Unit)
				}
				h, ok := m.Data.(metricdata.Histogram[float64])
				if !ok {
					t.Fatalf("%s is a %T", name, m.Data)
				}
				return h
			}
		}
	}
	t.Fatalf("no histogram %s", name)
	return metricdata.Histogram[float64]{}
}

func TestLatencyHistograms(t *testing.T) {
	env := newOtelEnv(t)
	pub, _ := env.chain(t, func(context.Context, *transport.Message) error { return nil })
	for range 3 {
		if err := pub.Publish(context.Background(), "orders", &transport.Message{}); err != nil {
			t.Fatal(err)
		}
	}
	// A message from a backend that stamps its own publish time, an hour
	// ago, and one with no publish time at all.
	mw, err := Middleware(env.opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := mw(func(context.Context, *transport.Message) error { return nil })
	_ = h(context.Background(), &transport.Message{Topic: "old", PublishedAt: time.Now().Add(-time.Hour)})
	_ = h(context.Background(), &transport.Message{Topic: "unstamped"})

	counts := func(name string) map[string]uint64 {
		out := map[string]uint64{}
		for _, dp := range histogram(t, env.reader, name).DataPoints {
			topic, _ := dp.Attributes.Value("messaging.destination.name")
			out[topic.AsString()] += dp.Count
			if v, _ := dp.Attributes.Value("messaging.system"); v.AsString() != "memory" {
				t.Errorf("%s: messaging.system %q", name, v.AsString())
			}
		}
		return out
	}
	if got := counts(ProcessDuration); got["orders"] != 3 || got["old"] != 1 || got["unstamped"] != 1 {
		t.Errorf("%s counts %v", ProcessDuration, got)
	}
	for _, name := range []string{TransmissionDuration, EndToEndDuration} {
		if got := counts(name); got["orders"] != 3 || got["old"] != 1 || got["unstamped"] != 0 {
			t.Errorf("%s counts %v, want 3 orders, 1 old, no unstamped", name, got)
		}
	}
	for _, dp := range histogram(t, env.reader, EndToEndDuration).DataPoints {
		if topic, _ := dp.Attributes.Value("messaging.destination.name"); topic.AsString() == "old" && dp.Sum < 3599 {
			t.Errorf("end to end of a message published an hour ago: %vs", dp.Sum)
		}
	}
}

func TestPublishErrorMarksOnlyUnconfirmedMessages(t *testing.T) {
	env := newOtelEnv(t)
	pub, lb := env.chain(t, func(context.Context, *transport.Message) error { return nil })
	lb.fail = map[int]bool{1: true}
	err := pub.Publish(context.Background(), "orders", &transport.Message{}, &transport.Message{}, &transport.Message{})
	if !errors.Is(err, transport.ErrNotConfirmed) {
		t.Fatalf("err = %v", err)
	}
	var failed int
	for _, s := range spanByKind(t, env.spans.Ended(), trace.SpanKindProducer) {
		if s.Status().Code == codes.Error {
			failed++
		}
		if !hasAttr(s, attribute.Int("messaging.batch.message_count", 3)) {
			t.Errorf("span %s lacks the batch size", s.Name())
		}
	}
	if failed != 1 {
		t.Errorf("%d producer spans failed, want 1", failed)
	}
}

func TestOptionsValidated(t *testing.T) {
	for name, opt := range map[string]Option{
		"tracer": WithTracerProvider(nil), "meter": WithMeterProvider(nil), "propagator": WithPropagator(nil), "nil": nil,
	} {
		if _, err := Middleware(opt); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
		if _, err := PublisherMiddleware(opt); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
