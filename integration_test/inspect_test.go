package integration_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware/tracing"
	"github.com/brokerkit/brokerkit/transport"
)

// inspected is a backend opened for the inspection scenario.
type inspected struct {
	pub transport.Publisher
	sub transport.Subscriber
	// exists reports whether a topic exists, asked of the broker directly.
	exists func(t *testing.T, topic string) bool
	// membersBlockPurge: Kafka refuses to purge a group with live members.
	membersBlockPurge bool
	// unackedKnown: the backend can count delivered, unsettled messages.
	unackedKnown bool
	// seesEmptyTopics: exists can tell a topic nobody subscribed to yet.
	seesEmptyTopics bool
}

// TestInspectionOnEveryBackend publishes 100 messages to a group that
// handles 40 of them, and checks what the inspection API says: a backlog of
// 60, the same in the OpenTelemetry gauge, 60 purged, then 0; and topics
// created and deleted.
func TestInspectionOnEveryBackend(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(t *testing.T, topic, group string) inspected
	}{
		{"memory", func(t *testing.T, _, _ string) inspected {
			br, err := memory.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { br.Close() })
			// Only a group's queue shows that a memory topic exists.
			return inspected{pub: br, sub: br, unackedKnown: true, exists: func(t *testing.T, topic string) bool {
				_, err := br.GroupStats(context.Background(), topic, "g")
				return err == nil
			}}
		}},
		{"kafka", func(t *testing.T, _, _ string) inspected {
			brokers := brokertest.Kafka(t)
			pub, err := kafka.NewPublisher(brokers)
			if err != nil {
				t.Fatal(err)
			}
			sub, err := kafka.NewSubscriber(brokers, kafka.WithCommitInterval(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sub.Close(); pub.Close() })
			return inspected{pub: pub, sub: sub, membersBlockPurge: true, seesEmptyTopics: true,
				exists: func(t *testing.T, topic string) bool { return brokertest.KafkaTopicExists(t, brokers, topic) }}
		}},
		{"rabbitmq", func(t *testing.T, topic, group string) inspected {
			url := brokertest.RabbitMQ(t)
			t.Cleanup(func() { deleteTopology(t, url, []string{topic}, []string{group}) })
			pub, err := amqp.NewPublisher(url)
			if err != nil {
				t.Fatal(err)
			}
			sub, err := amqp.NewSubscriber(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sub.Close(); pub.Close() })
			return inspected{pub: pub, sub: sub, seesEmptyTopics: true, exists: func(t *testing.T, topic string) bool {
				return brokertest.RabbitMQExchangeExists(t, url, topic)
			}}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			topic, group := brokertest.Name(t, "inspect"), "g"
			e := b.open(t, topic, group)
			inspectScenario(t, e, topic, group)
		})
	}
}

func inspectScenario(t *testing.T, e inspected, topic, group string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := transport.CreateTopic(ctx, e.pub, topic, transport.TopicSpec{Partitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if e.seesEmptyTopics && !e.exists(t, topic) {
		t.Fatalf("topic %s does not exist after CreateTopic", topic)
	}

	// The group acks its first 40 messages and fails the rest, which
	// stay in its backlog.
	var handled atomic.Int64
	reached := make(chan struct{})
	h := func(context.Context, *transport.Message) error {
		if handled.Load() >= 40 {
			return errors.New("not now")
		}
		if handled.Add(1) == 40 {
			close(reached)
		}
		return nil
	}
	s, err := e.sub.Subscribe(ctx, topic, h, transport.WithGroup(group), transport.WithConcurrency(1),
		transport.WithBackoff(time.Second, time.Second), transport.WithDrainTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]*transport.Message, 100)
	for i := range msgs {
		msgs[i] = &transport.Message{Key: "one-key", Payload: []byte{byte(i)}}
	}
	if err := e.pub.Publish(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatalf("only %d messages handled", handled.Load())
	}
	st := waitStats(t, ctx, e.sub, topic, group, func(st transport.GroupStats) bool { return st.Consumers == 1 })
	t.Logf("while subscribed: %+v", st)
	if e.membersBlockPurge {
		if _, err := transport.Purge(ctx, e.sub, topic, group); !errors.Is(err, transport.ErrInvalid) {
			t.Fatalf("Purge with a live member: %v, want ErrInvalid", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Logf("closing the subscription: %v", err)
	}

	st = waitStats(t, ctx, e.sub, topic, group, func(st transport.GroupStats) bool { return st.Backlog == 60 && st.Consumers == 0 })
	if st.Ready != 60 || (e.unackedKnown && st.Unacked != 0) {
		t.Fatalf("after handling 40 of 100: %+v, want 60 ready", st)
	}
	if e.membersBlockPurge {
		var sum int64
		for _, p := range st.Partitions {
			sum += p.Lag
		}
		if sum != 60 || len(st.Partitions) != 3 {
			t.Fatalf("partitions %+v: want 3 summing to 60", st.Partitions)
		}
	}
	// The publisher answers too, and the same.
	if pst, err := transport.Stats(ctx, e.pub, topic, group); err != nil || pst.Backlog != 60 {
		t.Fatalf("Stats through the publisher: %+v, %v", pst, err)
	}

	// The gauge reads what the API reads.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	reg, err := tracing.BacklogGauge(e.sub, []tracing.GroupRef{{Topic: topic, Group: group}}, tracing.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	if got := collectBacklog(t, reader, topic, group); got != 60 {
		t.Fatalf("gauge: %d, want 60", got)
	}

	n, err := transport.Purge(ctx, e.sub, topic, group)
	if err != nil || n != 60 {
		t.Fatalf("Purge: %d, %v; want 60 purged", n, err)
	}
	waitStats(t, ctx, e.sub, topic, group, func(st transport.GroupStats) bool { return st.Backlog == 0 })
	if got := collectBacklog(t, reader, topic, group); got != 0 {
		t.Fatalf("gauge after purge: %d, want 0", got)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}

	if err := transport.DeleteTopic(ctx, e.pub, topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	if e.exists(t, topic) {
		t.Fatalf("topic %s still exists after DeleteTopic", topic)
	}
}

func waitStats(t *testing.T, ctx context.Context, v any, topic, group string, ok func(transport.GroupStats) bool) transport.GroupStats {
	t.Helper()
	var last transport.GroupStats
	var lastErr error
	for ctx.Err() == nil {
		last, lastErr = transport.Stats(ctx, v, topic, group)
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("stats never as expected: last %+v, %v", last, lastErr)
	return last
}

func collectBacklog(t *testing.T, r *sdkmetric.ManualReader, topic, group string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != tracing.BacklogGaugeName {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				d, _ := dp.Attributes.Value(attribute.Key("messaging.destination.name"))
				g, _ := dp.Attributes.Value(attribute.Key("messaging.consumer.group.name"))
				if d.AsString() == topic && g.AsString() == group {
					return dp.Value
				}
			}
		}
	}
	t.Fatalf("no %s point for %s/%s", tracing.BacklogGaugeName, topic, group)
	return 0
}
