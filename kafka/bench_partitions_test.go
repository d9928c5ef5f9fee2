package kafka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
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
	b.ResetTimer()
	publishFrom64(b, pub, topic)
	b.StopTimer()
	reportRate(b, b.N)
	if n := requests.Load(); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "records/request")
		b.ReportMetric(float64(partitions.Load())/float64(n), "partitions/request")
	}
}

// BenchmarkPublishWhileConsuming is BenchmarkPublishPartitions with a group
// subscription draining the topic at the same time, the comparison's Kafka
// workload, once without fetch lingering (the baseline, in the same run)
// and once with the default linger. It reports the fetch requests per
// produce request: without lingering each of the 8 partition fetchers
// answers at every produce request that reaches its partition, and on a
// broker sharing the client's 2 cores those fetches take the time the
// publishers need.
func BenchmarkPublishWhileConsuming(b *testing.B) {
	for _, linger := range []time.Duration{0, kafka.DefaultFetchLinger} {
		b.Run("linger="+linger.String(), func(b *testing.B) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			var produces, fetches atomic.Int64
			c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				switch req.(type) {
				case *kmsg.ProduceRequest:
					produces.Add(1)
				case *kmsg.FetchRequest:
					fetches.Add(1)
				}
				return nil, nil, false
			})
			brokers := c.ListenAddrs()
			topic := brokertest.KafkaTopic(b, brokers, 8)
			pub := benchPublisher(b, brokers)
			sub, err := kafka.NewSubscriber(brokers, kafka.WithFetchLinger(linger))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sub.Close() })
			var handled atomic.Int64
			all := make(chan struct{})
			ctx := context.Background()
			if _, err := sub.Subscribe(ctx, topic, func(context.Context, *transport.Message) error {
				if handled.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			}, transport.WithGroup("bench"), transport.WithStart(transport.StartOldest)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			p0, f0 := produces.Load(), fetches.Load()
			publishFrom64(b, pub, topic)
			if b.Failed() {
				return // a publish failed: not every message will be handled
			}
			<-all
			b.StopTimer()
			reportRate(b, b.N)
			if n := produces.Load() - p0; n > 0 {
				b.ReportMetric(float64(fetches.Load()-f0)/float64(n), "fetches/produce")
			}
		})
	}
}

// publishFrom64 publishes b.N 256-byte messages to topic from 64
// goroutines, one message per call.
func publishFrom64(b *testing.B, pub *kafka.Publisher, topic string) {
	payload := make([]byte, 256)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := pub.Publish(context.Background(), topic, &transport.Message{Payload: payload}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
