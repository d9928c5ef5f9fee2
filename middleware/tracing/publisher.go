package tracing

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

// PublisherMiddleware returns publisher middleware that starts a producer
// span per message ("send <topic>"), writes the span's trace context into
// the message's metadata through the propagator (W3C "traceparent" and
// "tracestate" by default), and stamps the publish time
// (middleware.MetaPublishedAt) for the consumer's latency histograms. A
// message without an ID gets one here, so that the span can name it. The
// span ends when Publish returns, with the error of the messages that were
// not confirmed.
func PublisherMiddleware(opts ...Option) (transport.PublisherMiddleware, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	attrs := []attribute.KeyValue{semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("send")}
	if c.system != "" {
		attrs = append(attrs, semconv.MessagingSystemKey.String(c.system))
	}
	shared := &publisherShared{
		c:         c,
		tracer:    c.tp.Tracer(instrumentation),
		startOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...)},
		names:     newSpanNames("send"),
	}
	return func(p transport.Publisher) transport.Publisher {
		return &publisher{Publisher: p, publisherShared: shared}
	}, nil
}

// publisherShared is what every publisher one PublisherMiddleware wraps
// shares.
type publisherShared struct {
	c         *config
	tracer    trace.Tracer
	startOpts []trace.SpanStartOption // built once: per message they would allocate
	names     *spanNames              // "send <topic>"
}

type publisher struct {
	transport.Publisher
	*publisherShared
}

func (p *publisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	now := time.Now()
	name := p.names.of(topic)
	var one [1]trace.Span
	spans := one[:]
	if len(msgs) > 1 {
		spans = make([]trace.Span, len(msgs))
	}
	publishCtx := ctx
	for i, m := range msgs {
		if m == nil {
			continue // Publish reports it
		}
		if m.ID == "" {
			m.ID = transport.NewID()
		}
		spanCtx, span := p.tracer.Start(ctx, name, p.startOpts...)
		spans[i] = span
		if span.IsRecording() {
			span.SetAttributes(semconv.MessagingDestinationName(topic), semconv.MessagingMessageID(m.ID))
			if len(msgs) > 1 {
				span.SetAttributes(semconv.MessagingBatchMessageCount(len(msgs)))
			}
		}
		if m.Metadata == nil {
			m.Metadata = make(transport.Metadata, 4)
		}
		p.c.prop.Inject(spanCtx, propagation.MapCarrier(m.Metadata))
		if len(msgs) == 1 {
			// Publisher middleware further in see the message's span.
			publishCtx = spanCtx
		}
	}
	middleware.Stamp(now, msgs)
	err := p.Publisher.Publish(publishCtx, topic, msgs...)
	endSpans(spans[:len(msgs)], err)
	return err
}

// endSpans ends each message's span, marking those that were not confirmed:
// all of them, unless a *transport.PublishError names which.
func endSpans(spans []trace.Span, err error) {
	var failed map[int]error
	var pe *transport.PublishError
	if errors.As(err, &pe) {
		failed = make(map[int]error, len(pe.Failed))
		for _, f := range pe.Failed {
			failed[f.Index] = f.Err
		}
	}
	for i, s := range spans {
		if s == nil {
			continue
		}
		if err != nil {
			serr := err
			if pe != nil {
				serr = failed[i]
			}
			if serr != nil {
				s.RecordError(serr)
				s.SetStatus(codes.Error, serr.Error())
				s.SetAttributes(semconv.ErrorTypeKey.String(transport.CodeOf(serr).String()))
			}
		}
		s.End()
	}
}
