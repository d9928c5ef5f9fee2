package middleware

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// DefaultLatencyMaxTopics is how many topics a LatencyRecorder keeps apart
// unless LatencyMaxTopics says otherwise.
const DefaultLatencyMaxTopics = 256

// OtherTopics is the name under which a LatencyRecorder counts the topics
// beyond its limit.
const OtherTopics = "(other)"

// LatencyOption configures NewLatencyRecorder.
type LatencyOption func(*LatencyRecorder) error

// LatencyMaxTopics bounds how many topics are kept apart (30 KiB each);
// handlings of further topics are counted together under OtherTopics.
// Default 256.
func LatencyMaxTopics(n int) LatencyOption {
	return func(r *LatencyRecorder) error {
		if n < 1 {
			return transport.Invalidf("LatencyMaxTopics: %d is less than 1", n)
		}
		r.maxTopics = n
		return nil
	}
}

// LatencyRecorder measures, per topic and without any OpenTelemetry set-up,
// the three latencies of a message:
//
//   - transmission: from publish to the handler chain receiving it;
//   - processing: the handling itself, for successes and failures alike;
//   - end to end: from publish to handled.
//
// The publish time is Message.PublishedAt, or the MetaPublishedAt metadata
// that StampPublishTime writes; a message with neither counts toward
// processing only. Publish times come from the publishing machine's clock:
// across machines, transmission and end to end include the clock skew, and
// a negative transmission (the consumer's clock behind) counts as 0 and in
// TopicLatency.Skewed.
//
// Quantiles are within HistogramPrecision (1.6%); memory is fixed per topic.
type LatencyRecorder struct {
	maxTopics int
	topics    sync.Map // string → *topicLatency
	nTopics   atomic.Int64
	now       func() time.Time
}

type topicLatency struct {
	transmission, processing, endToEnd Histogram
	failed, skewed                     atomic.Uint64
}

// TopicLatency is a topic's latencies at one moment.
type TopicLatency struct {
	Transmission, Processing, EndToEnd Summary
	// Failed counts handlings that returned an error.
	Failed uint64
	// Skewed counts messages that arrived before they were published by
	// the clocks at hand: clock skew between publisher and consumer.
	Skewed uint64
}

// NewLatencyRecorder returns an empty recorder.
func NewLatencyRecorder(opts ...LatencyOption) (*LatencyRecorder, error) {
	r := &LatencyRecorder{maxTopics: DefaultLatencyMaxTopics, now: time.Now}
	if err := apply(r, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// Middleware records the latencies of every handling.
func (r *LatencyRecorder) Middleware(next transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		received := r.now()
		err := next(ctx, m)
		handled := r.now()
		t := r.topic(m.Topic)
		t.processing.Record(handled.Sub(received))
		if err != nil {
			t.failed.Add(1)
		}
		if published, ok := PublishTime(m); ok {
			tx := received.Sub(published)
			if tx < 0 {
				t.skewed.Add(1)
			}
			t.transmission.Record(tx)
			t.endToEnd.Record(handled.Sub(published))
		}
		return err
	}
}

func (r *LatencyRecorder) topic(name string) *topicLatency {
	if t, ok := r.topics.Load(name); ok {
		return t.(*topicLatency)
	}
	if r.nTopics.Load() >= int64(r.maxTopics) {
		name = OtherTopics
		if t, ok := r.topics.Load(name); ok {
			return t.(*topicLatency)
		}
	}
	t, loaded := r.topics.LoadOrStore(name, new(topicLatency))
	if !loaded && name != OtherTopics {
		r.nTopics.Add(1)
	}
	return t.(*topicLatency)
}

// Snapshot returns the latencies of every topic seen so far.
func (r *LatencyRecorder) Snapshot() map[string]TopicLatency {
	out := map[string]TopicLatency{}
	r.topics.Range(func(k, v any) bool {
		t := v.(*topicLatency)
		out[k.(string)] = TopicLatency{
			Transmission: t.transmission.Summary(),
			Processing:   t.processing.Summary(),
			EndToEnd:     t.endToEnd.Summary(),
			Failed:       t.failed.Load(),
			Skewed:       t.skewed.Load(),
		}
		return true
	})
	return out
}
