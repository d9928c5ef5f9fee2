package middleware

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func within(got, want time.Duration, rel float64) bool {
	return math.Abs(float64(got-want)) <= rel*float64(want)
}

func TestHistogramQuantilesMatchKnownDurations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sets := map[string][]time.Duration{
		"1..10000µs": func() []time.Duration {
			var d []time.Duration
			for i := 1; i <= 10000; i++ {
				d = append(d, time.Duration(i)*time.Microsecond)
			}
			return d
		}(),
		"log-normal around 2ms": func() []time.Duration {
			var d []time.Duration
			for range 100000 {
				d = append(d, time.Duration(2e6*math.Exp(rng.NormFloat64())))
			}
			return d
		}(),
		"small exact values": {0, 1, 2, 3, 5, 8, 13, 21, 34, 55},
		"a long tail":        append(slices.Repeat([]time.Duration{time.Millisecond}, 999), 3*time.Minute),
	}
	for name, ds := range sets {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			for _, d := range ds {
				h.Record(d)
			}
			sorted := slices.Clone(ds)
			slices.Sort(sorted)
			s := h.Summary()
			if s.Count != uint64(len(ds)) || s.Max != sorted[len(sorted)-1] {
				t.Errorf("count %d max %v, want %d %v (both exact)", s.Count, s.Max, len(ds), sorted[len(sorted)-1])
			}
			for _, c := range []struct {
				q   float64
				got time.Duration
			}{{0.5, s.P50}, {0.9, s.P90}, {0.99, s.P99}, {0.999, s.P999}, {0.75, h.Quantile(0.75)}} {
				want := exactQuantile(sorted, c.q)
				if !within(c.got, want, HistogramPrecision) {
					t.Errorf("p%v = %v, want %v within %.2f%%", c.q*100, c.got, want, HistogramPrecision*100)
				}
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v++ {
		i := bucketOf(v)
		lo, width := bucketRange(i)
		if v < lo || v >= lo+width {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, lo, lo+width)
		}
		if i < prev || i > prev+1 {
			t.Fatalf("buckets not contiguous at %d: %d after %d", v, i, prev)
		}
		if v >= 64 && float64(width) > float64(lo)/subCount {
			t.Fatalf("bucket %d too wide: [%d, +%d)", i, lo, width)
		}
		prev = i
	}
	if got := bucketOf(math.MaxInt64); got != numBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last, %d", got, numBuckets-1)
	}
	var h Histogram
	h.Record(-time.Second)
	if s := h.Summary(); s.Count != 1 || s.Max != 0 {
		t.Errorf("negative duration: %v, want one 0", s)
	}
	var empty Histogram
	if s := empty.Summary(); s != (Summary{}) || empty.Quantile(0.5) != 0 {
		t.Errorf("empty histogram: %v", s)
	}
}

func TestLatencyRecorder(t *testing.T) {
	rec, err := NewLatencyRecorder(LatencyMaxTopics(2))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(1000, 0)}
	published := clock.t
	rec.now = clock.now
	h := rec.Middleware(func(_ context.Context, m *transport.Message) error {
		clock.advance(3 * time.Millisecond) // processing
		if m.Key == "fail" {
			return errFlaky
		}
		return nil
	})
	deliver := func(topic string, m *transport.Message, transmission time.Duration) error {
		clock.t = published.Add(transmission)
		m.Topic = topic
		return h(context.Background(), m)
	}
	// Publish time from the backend, then from metadata, then none.
	_ = deliver("a", &transport.Message{PublishedAt: published}, 5*time.Millisecond)
	md := &transport.Message{}
	Stamp(published, []*transport.Message{md})
	_ = deliver("a", md, 5*time.Millisecond)
	_ = deliver("a", &transport.Message{Key: "fail"}, 5*time.Millisecond)
	// The consumer's clock is behind the publisher's.
	_ = deliver("b", &transport.Message{PublishedAt: published}, -time.Millisecond)
	_ = deliver("c", &transport.Message{PublishedAt: published}, time.Millisecond)
	_ = deliver("d", &transport.Message{PublishedAt: published}, time.Millisecond)

	snap := rec.Snapshot()
	a := snap["a"]
	if a.Processing.Count != 3 || a.Transmission.Count != 2 || a.EndToEnd.Count != 2 || a.Failed != 1 {
		t.Errorf("topic a: %+v; want 3 processed, 2 with a publish time, 1 failed", a)
	}
	if !within(a.Transmission.P50, 5*time.Millisecond, HistogramPrecision) ||
		!within(a.Processing.P99, 3*time.Millisecond, HistogramPrecision) ||
		!within(a.EndToEnd.Max, 8*time.Millisecond, 0) {
		t.Errorf("topic a latencies: %+v", a)
	}
	if b := snap["b"]; b.Skewed != 1 || b.Transmission.Max != 0 || !within(b.EndToEnd.P50, 2*time.Millisecond, HistogramPrecision) {
		t.Errorf("topic b (skewed clock): %+v", b)
	}
	if len(snap) != 3 {
		t.Errorf("topics %v: want a, b and %s holding c and d", keys(snap), OtherTopics)
	}
	if snap[OtherTopics].Processing.Count != 2 {
		t.Errorf("%s counted %d handlings, want 2", OtherTopics, snap[OtherTopics].Processing.Count)
	}
	if _, err := NewLatencyRecorder(LatencyMaxTopics(0)); err == nil {
		t.Error("LatencyMaxTopics(0) accepted")
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
