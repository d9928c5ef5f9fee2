package kafka_test

// Benchmarks of the Kafka backend against raw kafka-go used the recommended
// way, in the same run and against the same broker: the embedded kfake
// cluster from brokertest.Kafka, or KAFKA_BROKERS. kfake is not Apache
// Kafka: it keeps everything in one process, so these ratios measure the
// client side, not a real cluster.
//
//	go test -run '^$' -bench . -benchtime 3s ./kafka/

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

const (
	benchPayload = 100  // bytes per message
	benchBatch   = 1000 // messages per batch publish
)

func benchMessages(n int) []*transport.Message {
	msgs := make([]*transport.Message, n)
	for i := range msgs {
		msgs[i] = &transport.Message{Payload: make([]byte, benchPayload)}
	}
	return msgs
}

func rawMessages(n int) []kafkago.Message {
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		msgs[i] = kafkago.Message{Value: make([]byte, benchPayload)}
	}
	return msgs
}

func reportRate(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

func rawWriter(b *testing.B, brokers []string, topic string, tune func(*kafkago.Writer)) *kafkago.Writer {
	tr := &kafkago.Transport{}
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, Transport: tr,
		Balancer: &kafkago.Murmur2Balancer{}, RequiredAcks: kafkago.RequireAll}
	if tune != nil {
		tune(w)
	}
	b.Cleanup(func() {
		w.Close()
		tr.CloseIdleConnections()
	})
	return w
}

func benchPublisher(b *testing.B, brokers []string) *kafka.Publisher {
	pub, err := kafka.NewPublisher(brokers)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pub.Close() })
	return pub
}

// BenchmarkPublishBatch: one goroutine publishing 1000 messages per call to
// a one-partition topic. The raw Writer's BatchSize matches the call, so
// its batch is full, and sent, without waiting on BatchTimeout.
func BenchmarkPublishBatch(b *testing.B) {
	brokers := brokertest.Kafka(b, kfake.BlackholeProduce())
	topic := brokertest.KafkaTopic(b, brokers, 1)
	ctx := context.Background()

	b.Run("brokerkit", func(b *testing.B) {
		pub := benchPublisher(b, brokers)
		msgs := benchMessages(benchBatch)
		b.ResetTimer()
		for range b.N {
			for _, m := range msgs {
				m.ID = ""
			}
			if err := pub.Publish(ctx, topic, msgs...); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*benchBatch)
	})
	b.Run("kafka-go", func(b *testing.B) {
		w := rawWriter(b, brokers, topic, func(w *kafkago.Writer) { w.BatchSize = benchBatch })
		msgs := rawMessages(benchBatch)
		b.ResetTimer()
		for range b.N {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*benchBatch)
	})
}

// BenchmarkPublishConcurrent: 64 goroutines each publishing one message per
// call, to a topic of 3 partitions, against kafka-go's Writer with default
// settings (BatchSize 100, BatchTimeout 1s) and with a tuned BatchTimeout.
func BenchmarkPublishConcurrent(b *testing.B) {
	brokers := brokertest.Kafka(b, kfake.BlackholeProduce())
	topic := brokertest.KafkaTopic(b, brokers, 3)
	ctx := context.Background()
	const goroutines = 64

	run := func(b *testing.B, publish func() error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					if err := publish(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		reportRate(b, b.N)
	}

	b.Run("brokerkit", func(b *testing.B) {
		pub := benchPublisher(b, brokers)
		payload := make([]byte, benchPayload)
		run(b, func() error { return pub.Publish(ctx, topic, &transport.Message{Payload: payload}) })
	})
	b.Run("kafka-go-default", func(b *testing.B) {
		w := rawWriter(b, brokers, topic, nil)
		payload := make([]byte, benchPayload)
		run(b, func() error { return w.WriteMessages(ctx, kafkago.Message{Value: payload}) })
	})
	b.Run("kafka-go-batchtimeout-1ms", func(b *testing.B) {
		w := rawWriter(b, brokers, topic, func(w *kafkago.Writer) { w.BatchTimeout = time.Millisecond })
		payload := make([]byte, benchPayload)
		run(b, func() error { return w.WriteMessages(ctx, kafkago.Message{Value: payload}) })
	})
}

// fill writes n messages to topic before a consume benchmark.
func fill(b *testing.B, brokers []string, topic string, n int) {
	b.Helper()
	pub := benchPublisher(b, brokers)
	for n > 0 {
		k := min(n, benchBatch)
		if err := pub.Publish(context.Background(), topic, benchMessages(k)...); err != nil {
			b.Fatal(err)
		}
		n -= k
	}
}

// BenchmarkConsume: a consumer group reading b.N messages from 3
// partitions and committing them, against a kafka-go Reader with the same
// group settings, FetchMessage then CommitMessages with a 1s commit
// interval (brokerkit's default).
func BenchmarkConsume(b *testing.B) {
	brokers := brokertest.Kafka(b)
	ctx := context.Background()

	b.Run("brokerkit", func(b *testing.B) {
		topic := brokertest.KafkaTopic(b, brokers, 3)
		fill(b, brokers, topic, b.N)
		sub, err := kafka.NewSubscriber(brokers)
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		var seen atomic.Int64
		done := make(chan struct{})
		b.ResetTimer()
		s, err := sub.Subscribe(ctx, topic, func(context.Context, *transport.Message) error {
			if seen.Add(1) == int64(b.N) {
				close(done)
			}
			return nil
		}, transport.WithGroup(brokertest.Name(b, "g")), transport.WithStart(transport.StartOldest))
		if err != nil {
			b.Fatal(err)
		}
		<-done
		b.StopTimer()
		s.Close()
		reportRate(b, b.N)
	})
	b.Run("kafka-go", func(b *testing.B) {
		topic := brokertest.KafkaTopic(b, brokers, 3)
		fill(b, brokers, topic, b.N)
		b.ResetTimer()
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: brokertest.Name(b, "g"),
			StartOffset: kafkago.FirstOffset, CommitInterval: time.Second, MaxWait: 500 * time.Millisecond})
		for range b.N {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		r.Close()
		reportRate(b, b.N)
	})
}

// BenchmarkLatency: publish-to-handler latency of one message at a time,
// p50, p99 and p99.9, for brokerkit (group subscription) and for a raw
// kafka-go Writer (BatchTimeout 1ms: the default 1s would dominate) and
// Reader.
func BenchmarkLatency(b *testing.B) {
	brokers := brokertest.Kafka(b)
	ctx := context.Background()

	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
		b.ReportMetric(q(0.50), "p50-µs")
		b.ReportMetric(q(0.99), "p99-µs")
		b.ReportMetric(q(0.999), "p99.9-µs")
	}
	stamp := func() []byte { return binary.AppendVarint(nil, time.Now().UnixNano()) }
	since := func(p []byte) time.Duration {
		ns, _ := binary.Varint(p)
		return time.Duration(time.Now().UnixNano() - ns)
	}

	b.Run("brokerkit", func(b *testing.B) {
		topic := brokertest.KafkaTopic(b, brokers, 3)
		pub := benchPublisher(b, brokers)
		sub, err := kafka.NewSubscriber(brokers)
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		got := make(chan time.Duration, 1)
		s, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
			got <- since(m.Payload)
			return nil
		}, transport.WithGroup(brokertest.Name(b, "g")))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			if err := pub.Publish(ctx, topic, &transport.Message{Payload: stamp()}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, <-got)
		}
		b.StopTimer()
		report(b, lat)
	})
	b.Run("kafka-go", func(b *testing.B) {
		topic := brokertest.KafkaTopic(b, brokers, 3)
		w := rawWriter(b, brokers, topic, func(w *kafkago.Writer) { w.BatchTimeout = time.Millisecond })
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: brokertest.Name(b, "g"),
			StartOffset: kafkago.FirstOffset, CommitInterval: time.Second, MaxWait: 500 * time.Millisecond})
		defer r.Close()
		// The Reader joins its group lazily: wait until it reads a first
		// message (the topic is new, so FirstOffset starts there).
		if err := w.WriteMessages(ctx, kafkago.Message{Value: stamp()}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.FetchMessage(ctx); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			if err := w.WriteMessages(ctx, kafkago.Message{Value: stamp()}); err != nil {
				b.Fatal(err)
			}
			m, err := r.FetchMessage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, since(m.Value))
			if err := r.CommitMessages(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		report(b, lat)
	})
}
