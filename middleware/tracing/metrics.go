package tracing

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

// Histogram names.
const (
	ProcessDuration      = "messaging.process.duration"
	TransmissionDuration = "brokerkit.messaging.transmission.duration"
	EndToEndDuration     = "brokerkit.messaging.end_to_end.duration"
)

// buckets, in seconds, from 100µs (in-process brokers) to 30s (backlogs).
var buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30}

// maxCachedSets bounds the attribute sets kept, in case topics are made up
// per message; past it, sets are built per handling.
const maxCachedSets = 4096

type instruments struct {
	process, transmission, endToEnd metric.Float64Histogram
	system, group                   string

	mu    sync.RWMutex
	sets  map[setKey][]metric.RecordOption
	names *spanNames // "process <topic>"
}

type setKey struct {
	topic string
	code  transport.Code
}

func newInstruments(c *config) (*instruments, error) {
	meter := c.mp.Meter(instrumentation)
	ins := &instruments{system: c.system, group: c.group, sets: map[setKey][]metric.RecordOption{},
		names: newSpanNames("process")}
	var err error
	for _, h := range []struct {
		dst         *metric.Float64Histogram
		name, descr string
	}{
		{&ins.process, ProcessDuration, "Duration of handling a message."},
		{&ins.transmission, TransmissionDuration, "Time from publishing a message to the start of its handling."},
		{&ins.endToEnd, EndToEndDuration, "Time from publishing a message to the end of its handling."},
	} {
		*h.dst, err = meter.Float64Histogram(h.name, metric.WithUnit("s"), metric.WithDescription(h.descr),
			metric.WithExplicitBucketBoundaries(buckets...))
		if err != nil {
			return nil, err
		}
	}
	return ins, nil
}

func (ins *instruments) record(ctx context.Context, m *transport.Message, err error, received, handled time.Time) {
	attrs := ins.attributes(m.Topic, transport.CodeOf(err))
	ins.process.Record(ctx, handled.Sub(received).Seconds(), attrs...)
	if published, ok := middleware.PublishTime(m); ok {
		// A clock behind the publisher's makes transmission negative;
		// histograms take no negative values.
		ins.transmission.Record(ctx, max(received.Sub(published), 0).Seconds(), attrs...)
		ins.endToEnd.Record(ctx, max(handled.Sub(published), 0).Seconds(), attrs...)
	}
}

// attributes returns the measurement's options, built once per topic and
// outcome: building them per handling would allocate.
func (ins *instruments) attributes(topic string, code transport.Code) []metric.RecordOption {
	k := setKey{topic, code}
	ins.mu.RLock()
	o, ok := ins.sets[k]
	ins.mu.RUnlock()
	if ok {
		return o
	}
	kv := []attribute.KeyValue{semconv.MessagingDestinationName(topic), attribute.String("brokerkit.outcome", "ok")}
	if code != transport.CodeOK {
		kv[1] = attribute.String("brokerkit.outcome", "error")
		kv = append(kv, semconv.ErrorTypeKey.String(code.String()))
	}
	if ins.system != "" {
		kv = append(kv, semconv.MessagingSystemKey.String(ins.system))
	}
	if ins.group != "" {
		kv = append(kv, semconv.MessagingConsumerGroupName(ins.group))
	}
	o = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	ins.mu.Lock()
	if len(ins.sets) < maxCachedSets {
		ins.sets[k] = o
	}
	ins.mu.Unlock()
	return o
}
