package memory_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

// BenchmarkPublishParallel is a service publishing small messages from many
// goroutines: 64 of them (32 per core on a 2-core machine), one 256-byte
// message per Publish, to a topic with one group subscription that acks.
// It measures publish calls; the consumer runs alongside.
func BenchmarkPublishParallel(b *testing.B) {
	br := newBroker(b)
	ctx := context.Background()
	var handled atomic.Int64
	_, err := br.Subscribe(ctx, "bench", func(context.Context, *transport.Message) error {
		handled.Add(1)
		return nil
	}, transport.WithGroup("g"))
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 256)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := br.Publish(ctx, "bench", &transport.Message{ID: "x", Payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
