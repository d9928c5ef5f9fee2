package kafka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
)

// BenchmarkPublishPartitions: 64 goroutines each publishing one 256-byte
// message per call to a topic of 8 partitions on one kfake broker (not
// Apache Kafka). It reports the records and partitions each produce
// request carried, which is what grouping partitions per broker changes.
func BenchmarkPublishPartitions(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	var requests, partitions atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, t := range req.(*kmsg.ProduceRequest).Topics {
			partitions.Add(int64(len(t.Partitions)))
		}
		requests.Add(1)
		return nil, nil, false
	})
	brokers := c.ListenAddrs()
	topic := brokertest.KafkaTopic(b, brokers, 8)
	pub := benchPublisher(b, brokers)
	ctx := context.Background()
	payload := make([]byte, 256)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := pub.Publish(ctx, topic, &transport.Message{Payload: payload}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, b.N)
	if n := requests.Load(); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "records/request")
		b.ReportMetric(float64(partitions.Load())/float64(n), "partitions/request")
	}
}
