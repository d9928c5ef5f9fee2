package memory_test

// End-to-end benchmarks of the memory backend (publish, hand-off to the
// handler, ack) against bare Go channels doing the same hand-off, in the
// same run:
//
//	go test -run '^$' -bench . -benchmem ./memory/

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

var (
	payloadSizes = []int{16, 1024}
	concurrency  = []int{1, 8}
)

const batch = 64 // messages per Publish in the batched variant

// BenchmarkEndToEnd publishes b.N messages to one group subscription and
// waits until every one was handled and acked.
func BenchmarkEndToEnd(b *testing.B) {
	for _, size := range payloadSizes {
		for _, conc := range concurrency {
			for _, per := range []int{1, batch} {
				b.Run(fmt.Sprintf("payload=%d/conc=%d/per_publish=%d", size, conc, per), func(b *testing.B) {
					benchMemory(b, size, conc, per)
				})
			}
		}
	}
}

func benchMemory(b *testing.B, size, conc, per int) {
	br := newBroker(b)
	ctx := context.Background()
	var handled atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	_, err := br.Subscribe(ctx, "bench", func(context.Context, *transport.Message) error {
		if handled.Add(1) == n {
			close(done)
		}
		return nil
	}, transport.WithGroup("g"), transport.WithConcurrency(conc))
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	msgs := make([]*transport.Message, per)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += per {
		k := min(per, b.N-sent)
		for i := range k {
			msgs[i] = &transport.Message{ID: "x", Payload: payload}
		}
		if err := br.Publish(ctx, "bench", msgs[:k]...); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkChannels is the baseline: the same hand-off of b.N messages to
// conc workers over a buffered Go channel, with the payload copied at send
// (as Publish copies it) and an atomic count standing in for the ack.
func BenchmarkChannels(b *testing.B) {
	for _, size := range payloadSizes {
		for _, conc := range concurrency {
			b.Run(fmt.Sprintf("payload=%d/conc=%d", size, conc), func(b *testing.B) {
				type msg struct {
					id      string
					payload []byte
				}
				ch := make(chan *msg, 10000)
				var handled atomic.Int64
				var wg sync.WaitGroup
				for range conc {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for m := range ch {
							_ = m
							handled.Add(1)
						}
					}()
				}
				payload := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					ch <- &msg{id: "x", payload: append([]byte(nil), payload...)}
				}
				close(ch)
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkLatency publishes one message every 100 µs (10,000 a second) and
// reports publish-to-handler latency percentiles, measured from the
// message's PublishedAt. b.N is the number of messages.
func BenchmarkLatency(b *testing.B) {
	const interval = 100 * time.Microsecond
	br := newBroker(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	done := make(chan struct{})
	_, err := br.Subscribe(ctx, "latency", func(_ context.Context, m *transport.Message) error {
		d := time.Since(m.PublishedAt)
		mu.Lock()
		lat = append(lat, d)
		if len(lat) == b.N {
			close(done)
		}
		mu.Unlock()
		return nil
	}, transport.WithGroup("g"))
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 16)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		// Pace against the start time, so that a sleep's overshoot does not
		// lower the rate; sleeping (not spinning) leaves the CPU to the
		// consumer, as a real publisher would.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if err := br.Publish(ctx, "latency", &transport.Message{Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p99.9-µs")
}
