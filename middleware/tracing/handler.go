package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

// Middleware returns handler middleware that continues the producer's trace:
// it reads the trace context from the message's metadata, runs the handler
// inside a consumer span ("process <topic>", trace.SpanKindConsumer) whose
// parent is the producer's span, and marks the span failed (RecordError,
// status Error) when the handler returns an error. The handler's context
// carries the span, so what it publishes through PublisherMiddleware joins
// the same trace.
//
// It records three histograms, in seconds, with the attributes
// messaging.system, messaging.destination.name, messaging.consumer.group.name,
// brokerkit.outcome ("ok" or "error") and, on failure, error.type (the
// transport.Code of the error):
//
//   - messaging.process.duration: the handling;
//   - brokerkit.messaging.transmission.duration: from publish to the start of
//     the handling;
//   - brokerkit.messaging.end_to_end.duration: from publish to handled.
//
// The publish time is Message.PublishedAt, or the metadata PublisherMiddleware
// or middleware.StampPublishTime wrote; without either, only the processing
// histogram is recorded. Publish times come from the publisher's clock: see
// the clock-skew note in docs/middleware.md.
func Middleware(opts ...Option) (transport.Middleware, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ins, err := newInstruments(c)
	if err != nil {
		return nil, err
	}
	tracer := c.tp.Tracer(instrumentation)
	base := []attribute.KeyValue{semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process")}
	if c.system != "" {
		base = append(base, semconv.MessagingSystemKey.String(c.system))
	}
	if c.group != "" {
		base = append(base, semconv.MessagingConsumerGroupName(c.group))
	}
	// Built once: options made per message would allocate per message,
	// also under a no-op tracer.
	startOpts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(base...)}
	fields := c.prop.Fields()
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			received := time.Now()
			if hasAny(m.Metadata, fields) {
				ctx = c.prop.Extract(ctx, propagation.MapCarrier(m.Metadata))
			}
			ctx, span := tracer.Start(ctx, ins.names.of(m.Topic), startOpts...)
			recording := span.IsRecording()
			if recording {
				span.SetAttributes(
					semconv.MessagingDestinationName(m.Topic),
					semconv.MessagingMessageID(m.ID),
					attribute.Int("brokerkit.message.attempt", m.Attempt))
				if id := m.Metadata.Get(middleware.MetaCorrelationID); id != "" {
					span.SetAttributes(semconv.MessagingMessageConversationID(id))
				}
			}
			err := next(ctx, m)
			handled := time.Now()
			if err != nil && recording {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
				span.SetAttributes(semconv.ErrorTypeKey.String(transport.CodeOf(err).String()))
			}
			span.End()
			ins.record(ctx, m, err, received, handled)
			return err
		}
	}, nil
}

// hasAny reports whether md has one of the propagator's fields: without
// any, extracting would only cost time.
func hasAny(md transport.Metadata, fields []string) bool {
	for _, f := range fields {
		if _, ok := md[f]; ok {
			return true
		}
	}
	return false
}
