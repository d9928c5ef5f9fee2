package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/brokerkit/brokerkit/transport"
)

// BacklogGaugeName is the observable gauge BacklogGauge registers.
const BacklogGaugeName = "brokerkit.messaging.consumer.backlog"

// GroupRef names one group on one topic, for BacklogGauge.
type GroupRef struct {
	Topic, Group string
}

// BacklogGauge registers an observable gauge, BacklogGaugeName, that reads
// the backlog of each of groups from v through transport.Stats whenever the
// meter provider collects: queue depth on RabbitMQ and memory, consumer lag
// on Kafka (see transport.GroupStats.Backlog). Each point carries the
// messaging.destination.name and messaging.consumer.group.name attributes,
// and messaging.system with WithSystem. Nothing is read until this is
// called: the gauge is off unless asked for.
//
// v is anything a backend returned (a publisher or subscriber) that offers
// transport.Inspector; otherwise BacklogGauge returns an ErrUnsupported
// error. A group whose backlog cannot be read at collection time is left
// out of that collection. Unregister the returned registration to stop.
// Only WithMeterProvider and WithSystem apply.
func BacklogGauge(v any, groups []GroupRef, opts ...Option) (metric.Registration, error) {
	insp, ok := v.(transport.Inspector)
	if !ok {
		return nil, fmt.Errorf("%w: tracing.BacklogGauge: %T does not offer transport.Inspector", transport.ErrUnsupported, v)
	}
	if len(groups) == 0 {
		return nil, transport.Invalidf("tracing.BacklogGauge: no group given")
	}
	for _, g := range groups {
		if g.Topic == "" || g.Group == "" {
			return nil, transport.Invalidf("tracing.BacklogGauge: group %+v needs a topic and a group", g)
		}
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	type point struct {
		ref   GroupRef
		attrs metric.ObserveOption
	}
	points := make([]point, len(groups))
	for i, g := range groups {
		kv := []attribute.KeyValue{semconv.MessagingDestinationName(g.Topic), semconv.MessagingConsumerGroupName(g.Group)}
		if c.system != "" {
			kv = append(kv, semconv.MessagingSystemKey.String(c.system))
		}
		points[i] = point{g, metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	meter := c.mp.Meter(instrumentation)
	gauge, err := meter.Int64ObservableGauge(BacklogGaugeName, metric.WithUnit("{message}"),
		metric.WithDescription("Messages a consumer group has yet to finish: queue depth, or consumer lag on Kafka."))
	if err != nil {
		return nil, err
	}
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		for _, p := range points {
			st, err := insp.GroupStats(ctx, p.ref.Topic, p.ref.Group)
			if err != nil {
				continue // a point missing says "unknown"; a zero would lie
			}
			o.ObserveInt64(gauge, st.Backlog, p.attrs)
		}
		return nil
	}, gauge)
}
