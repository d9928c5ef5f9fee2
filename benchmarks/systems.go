package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	amqp091 "github.com/rabbitmq/amqp091-go"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"
	"gocloud.dev/pubsub/rabbitpubsub"

	bkamqp "github.com/brokerkit/brokerkit/amqp"
	bkkafka "github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

// kafkaPartitions is the partition count of every Kafka topic.
const kafkaPartitions = 8

// env holds what the systems share: the kfake cluster, the RabbitMQ URL.
type env struct {
	backends []string
	amqpURL  string
	kfake    *kfake.Cluster
	brokers  []string
	list     map[string][]system
}

func newEnv(ctx context.Context, backends []string) (*env, error) {
	e := &env{list: map[string][]system{}}
	for _, b := range backends {
		switch b = strings.TrimSpace(b); b {
		case "memory":
			e.list[b] = memorySystems()
		case "amqp":
			e.amqpURL = os.Getenv("AMQP_URL")
			if e.amqpURL == "" {
				e.amqpURL = "amqp://guest:guest@127.0.0.1:5672/"
			}
			conn, err := amqp091.Dial(e.amqpURL)
			if err != nil {
				return nil, fmt.Errorf("RabbitMQ at AMQP_URL: %w (leave amqp out of -backends to skip it)", err)
			}
			conn.Close()
			e.list[b] = e.amqpSystems()
		case "kafka":
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				return nil, err
			}
			e.kfake, e.brokers = c, c.ListenAddrs()
			e.list[b] = e.kafkaSystems()
		case "":
			continue
		default:
			return nil, fmt.Errorf("unknown backend %q (want memory, amqp or kafka)", b)
		}
		e.backends = append(e.backends, b)
	}
	return e, nil
}

// offlineEnv knows every system, for reporting saved results; it reaches
// no broker.
func offlineEnv() *env {
	e := &env{list: map[string][]system{}}
	e.list["memory"] = memorySystems()
	e.list["amqp"] = e.amqpSystems()
	e.list["kafka"] = e.kafkaSystems()
	return e
}

func (e *env) close() {
	if e.kfake != nil {
		e.kfake.Close()
	}
}

func (e *env) systems(backend string) []system { return e.list[backend] }

func (e *env) lookup(backend, name string) system {
	for _, s := range e.list[backend] {
		if s.name == name {
			return s
		}
	}
	return system{}
}

// ---- memory ----

func memorySystems() []system {
	return []system{
		{name: "raw Go channel", backend: "memory", raw: true, batchOK: true,
			note: "a buffered channel (10,000) and one reader: the floor, no copy, no ack",
			open: func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
				ch := make(chan []byte, 10000)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for b := range ch {
						got(b)
					}
				}()
				pub := func(ctx context.Context, bodies [][]byte) error {
					for _, b := range bodies {
						select {
						case ch <- b:
						case <-ctx.Done():
							return ctx.Err()
						}
					}
					return nil
				}
				return pub, func() { close(ch); <-done }, nil
			}},
		{name: "brokerkit memory", backend: "memory", batchOK: true,
			note: "copies each message; group subscription, default concurrency",
			open: func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
				b, err := memory.New()
				if err != nil {
					return nil, nil, err
				}
				if _, err := b.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
					got(m.Payload)
					return nil
				}, transport.WithGroup("g")); err != nil {
					return nil, nil, err
				}
				return brokerkitPublish(b, topic), func() { b.Close() }, nil
			}},
		{name: "Watermill gochannel", backend: "memory", batchOK: true,
			note: "defaults (no buffer; the subscriber acks each message before the next)",
			open: func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
				gc := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
				msgs, err := gc.Subscribe(context.Background(), topic)
				if err != nil {
					return nil, nil, err
				}
				go watermillDrain(msgs, got)
				return watermillPublish(gc, topic), func() { gc.Close() }, nil
			}},
		{name: "gocloud mempubsub", backend: "memory",
			note: "no batch call: a call of 64 is 64 Sends",
			open: func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
				t := mempubsub.NewTopic()
				s := mempubsub.NewSubscription(t, time.Minute)
				stop := gocloudDrain(s, got)
				return gocloudPublish(t, nil), func() { t.Shutdown(context.Background()); stop() }, nil
			}},
	}
}

func brokerkitPublish(p transport.Publisher, topic string) publishFunc {
	return func(ctx context.Context, bodies [][]byte) error {
		msgs := make([]*transport.Message, len(bodies))
		for i, b := range bodies {
			msgs[i] = &transport.Message{Payload: b}
		}
		return p.Publish(ctx, topic, msgs...)
	}
}

func watermillPublish(p message.Publisher, topic string) publishFunc {
	return func(ctx context.Context, bodies [][]byte) error {
		msgs := make([]*message.Message, len(bodies))
		for i, b := range bodies {
			msgs[i] = message.NewMessage(watermill.NewUUID(), b)
		}
		return p.Publish(topic, msgs...)
	}
}

// watermillPair subscribes got to topic through sub, and returns pub's
// publish function and a func that closes both; when subscribing fails it
// closes both itself.
func watermillPair(pub message.Publisher, sub message.Subscriber, topic string, got func([]byte)) (publishFunc, func(), error) {
	closeBoth := func() { pub.Close(); sub.Close() }
	msgs, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		closeBoth()
		return nil, nil, err
	}
	go watermillDrain(msgs, got)
	return watermillPublish(pub, topic), closeBoth, nil
}

func watermillDrain(msgs <-chan *message.Message, got func([]byte)) {
	for m := range msgs {
		got(m.Payload)
		m.Ack()
	}
}

// gocloudDrain receives with a few goroutines, as gocloud's docs advise.
func gocloudDrain(s *pubsub.Subscription, got func([]byte)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				m, err := s.Receive(ctx)
				if err != nil {
					return
				}
				got(m.Body)
				m.Ack()
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
		s.Shutdown(context.Background())
	}
}

func gocloudPublish(t *pubsub.Topic, beforeSend func(func(any) bool) error) publishFunc {
	return func(ctx context.Context, bodies [][]byte) error {
		for _, b := range bodies {
			if err := t.Send(ctx, &pubsub.Message{Body: b, BeforeSend: beforeSend}); err != nil {
				return err
			}
		}
		return nil
	}
}

// ---- RabbitMQ ----

func (e *env) amqpSystems() []system {
	return []system{
		{name: "raw amqp091-go", backend: "amqp", raw: true, batchOK: true,
			note: "a confirm-mode channel per publisher; a call writes its messages, then awaits their deferred confirms; consumer prefetch 256, one ack per message",
			open: e.rawAMQP(false)},
		{name: "raw amqp091-go + brokerkit's properties", backend: "amqp", batchOK: true,
			note: "as raw, each message carrying what brokerkit's does: a message ID, a timestamp and the timestamp_in_ms header (like work)",
			open: e.rawAMQP(true)},
		{name: "brokerkit amqp", backend: "amqp", batchOK: true,
			note: "persistent, confirms; group subscription, defaults (concurrency 1, prefetch 256: amqp.DefaultPrefetch)",
			open: e.brokerkitAMQP},
		{name: "Watermill AMQP (defaults: no confirms)", backend: "amqp", batchOK: true,
			note: "promises less: no publisher confirms, a channel opened per Publish call (ChannelPoolSize 0); consumer prefetch 1",
			open: e.watermillAMQP(false)},
		{name: "Watermill AMQP + confirms", backend: "amqp", batchOK: true,
			note: "ConfirmDelivery, ChannelPoolSize 64; consumer prefetch 1 (its default)",
			open: e.watermillAMQP(true)},
		{name: "gocloud rabbitpubsub (defaults: transient)", backend: "amqp",
			note: "promises less: non-persistent messages; confirms; no batch call",
			open: e.gocloudRabbit(false)},
		{name: "gocloud rabbitpubsub + persistent", backend: "amqp",
			note: "DeliveryMode persistent set in BeforeSend; confirms; no batch call",
			open: e.gocloudRabbit(true)},
	}
}

func (e *env) brokerkitAMQP(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
	pub, err := bkamqp.NewPublisher(e.amqpURL)
	if err != nil {
		return nil, nil, err
	}
	sub, err := bkamqp.NewSubscriber(e.amqpURL)
	if err != nil {
		pub.Close()
		return nil, nil, err
	}
	publish, closeBoth, err := brokerkitPair(ctx, pub, sub, topic, got, transport.WithGroup("g"))
	if err != nil {
		return nil, nil, err
	}
	return publish, func() {
		closeBoth()
		e.amqpCleanup(topic, bkamqp.DefaultQueueName(topic, "g"))
	}, nil
}

// brokerkitPair subscribes got to topic through sub, and returns pub's
// publish function and a func that closes both; when subscribing fails it
// closes both itself.
func brokerkitPair(ctx context.Context, pub transport.Publisher, sub transport.Subscriber, topic string,
	got func([]byte), opts ...transport.SubscribeOption) (publishFunc, func(), error) {
	closeBoth := func() { pub.Close(); sub.Close() }
	if _, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
		got(m.Payload)
		return nil
	}, opts...); err != nil {
		closeBoth()
		return nil, nil, err
	}
	return brokerkitPublish(pub, topic), closeBoth, nil
}

// amqpTopology declares a durable fanout exchange and a durable queue
// bound to it, for the clients that do not declare their own.
func (e *env) amqpTopology(exchange, queue string) error {
	conn, err := amqp091.Dial(e.amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(exchange, "fanout", true, false, false, false, nil); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return err
	}
	return ch.QueueBind(queue, "", exchange, false, nil)
}

func (e *env) amqpCleanup(exchange string, queues ...string) {
	conn, err := amqp091.Dial(e.amqpURL)
	if err != nil {
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	for _, q := range queues {
		_, _ = ch.QueueDelete(q, false, false, false)
	}
	_ = ch.ExchangeDelete(exchange, false, false)
}

// amqpConns declares topic's exchange and a queue bound to it, and dials a
// publishing and a consuming connection, for the clients that take
// connections of ours; closeAll closes both and deletes the topology.
func (e *env) amqpConns(topic string) (queue string, pubConn, subConn *amqp091.Connection, closeAll func(), err error) {
	queue = topic + ".g"
	if err := e.amqpTopology(topic, queue); err != nil {
		return "", nil, nil, nil, err
	}
	if pubConn, err = amqp091.Dial(e.amqpURL); err != nil {
		return "", nil, nil, nil, err
	}
	if subConn, err = amqp091.Dial(e.amqpURL); err != nil {
		pubConn.Close()
		return "", nil, nil, nil, err
	}
	return queue, pubConn, subConn, func() {
		pubConn.Close()
		subConn.Close()
		e.amqpCleanup(topic, queue)
	}, nil
}

// rawAMQP is amqp091-go used the recommended way; with props, each message
// also carries the properties brokerkit sets, so that the two do like work.
func (e *env) rawAMQP(props bool) func(context.Context, string, func([]byte)) (publishFunc, func(), error) {
	return func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
		queue, pubConn, subConn, closeAll, err := e.amqpConns(topic)
		if err != nil {
			return nil, nil, err
		}
		sch, err := subConn.Channel()
		if err == nil {
			err = sch.Qos(256, 0, false)
		}
		var deliveries <-chan amqp091.Delivery
		if err == nil {
			deliveries, err = sch.Consume(queue, "", false, false, false, false, nil)
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		go func() {
			for d := range deliveries {
				got(d.Body)
				_ = d.Ack(false)
			}
		}()
		// A channel per publishing goroutine, taken from a pool that grows on
		// demand, as a user who gives each goroutine its own channel would.
		var mu sync.Mutex
		var pool []*amqp091.Channel
		pub := func(ctx context.Context, bodies [][]byte) error {
			mu.Lock()
			var ch *amqp091.Channel
			if n := len(pool); n > 0 {
				ch, pool = pool[n-1], pool[:n-1]
			}
			mu.Unlock()
			if ch == nil {
				var err error
				if ch, err = pubConn.Channel(); err != nil {
					return err
				}
				if err := ch.Confirm(false); err != nil {
					return err
				}
			}
			dcs := make([]*amqp091.DeferredConfirmation, 0, len(bodies))
			for _, b := range bodies {
				m := amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: b}
				if props {
					now := time.Now()
					m.MessageId, m.Timestamp = transport.NewID(), now
					m.Headers = amqp091.Table{bkamqp.HeaderTimestampMillis: now.UnixMilli()}
				}
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, topic, "", false, false, m)
				if err != nil {
					return err
				}
				dcs = append(dcs, dc)
			}
			for _, dc := range dcs {
				if ok, err := dc.WaitContext(ctx); err != nil || !ok {
					return fmt.Errorf("not confirmed: %v", err)
				}
			}
			mu.Lock()
			pool = append(pool, ch)
			mu.Unlock()
			return nil
		}
		return pub, closeAll, nil
	}
}

func (e *env) watermillAMQP(confirms bool) func(context.Context, string, func([]byte)) (publishFunc, func(), error) {
	return func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
		cfg := wamqp.NewDurablePubSubConfig(e.amqpURL, wamqp.GenerateQueueNameTopicNameWithSuffix("g"))
		if confirms {
			cfg.Publish.ConfirmDelivery = true
			cfg.Publish.ChannelPoolSize = 64
		}
		pub, err := wamqp.NewPublisher(cfg, watermill.NopLogger{})
		if err != nil {
			return nil, nil, err
		}
		sub, err := wamqp.NewSubscriber(cfg, watermill.NopLogger{})
		if err != nil {
			pub.Close()
			return nil, nil, err
		}
		publish, closeBoth, err := watermillPair(pub, sub, topic, got)
		if err != nil {
			return nil, nil, err
		}
		return publish, func() {
			closeBoth()
			e.amqpCleanup(topic, wamqp.GenerateQueueNameTopicNameWithSuffix("g")(topic))
		}, nil
	}
}

func (e *env) gocloudRabbit(persistent bool) func(context.Context, string, func([]byte)) (publishFunc, func(), error) {
	return func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
		queue, pubConn, subConn, closeAll, err := e.amqpConns(topic)
		if err != nil {
			return nil, nil, err
		}
		t := rabbitpubsub.OpenTopic(pubConn, topic, nil)
		s := rabbitpubsub.OpenSubscription(subConn, queue, nil)
		stop := gocloudDrain(s, got)
		var before func(func(any) bool) error
		if persistent {
			before = func(as func(any) bool) error {
				var p *amqp091.Publishing
				if !as(&p) {
					return errors.New("rabbitpubsub: BeforeSend cannot reach amqp.Publishing")
				}
				p.DeliveryMode = amqp091.Persistent
				return nil
			}
		}
		return gocloudPublish(t, before), func() {
			t.Shutdown(context.Background())
			stop()
			closeAll()
		}, nil
	}
}

// ---- Kafka (kfake in process, not Apache Kafka) ----

func (e *env) kafkaSystems() []system {
	return []system{
		{name: "raw kafka-go", backend: "kafka", raw: true, batchOK: true,
			note: "Writer, acks=all, BatchTimeout 1 ms (the 1 s default would dominate); Reader in a group, commits every second",
			open: e.rawKafka},
		{name: "brokerkit kafka", backend: "kafka", batchOK: true,
			note: "acks=all; group subscription, defaults",
			open: func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
				if err := e.kafkaTopic(ctx, topic); err != nil {
					return nil, nil, err
				}
				pub, err := bkkafka.NewPublisher(e.brokers)
				if err != nil {
					return nil, nil, err
				}
				sub, err := bkkafka.NewSubscriber(e.brokers)
				if err != nil {
					pub.Close()
					return nil, nil, err
				}
				return brokerkitPair(ctx, pub, sub, topic, got,
					transport.WithGroup(kafkaGroup(topic)), transport.WithStart(transport.StartOldest))
			}},
		{name: "Watermill Kafka (sarama sync producer)", backend: "kafka", batchOK: true,
			note: "acks=all (WaitForAll), consumer group from the oldest offset",
			open: e.watermillKafka},
	}
}

func (e *env) kafkaTopic(ctx context.Context, topic string) error {
	c := &kafkago.Client{Addr: kafkago.TCP(e.brokers...)}
	res, err := c.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: kafkaPartitions, ReplicationFactor: 1}}})
	if err != nil {
		return err
	}
	return res.Errors[topic]
}

func (e *env) rawKafka(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
	if err := e.kafkaTopic(ctx, topic); err != nil {
		return nil, nil, err
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(e.brokers...), Topic: topic, RequiredAcks: kafkago.RequireAll,
		BatchTimeout: time.Millisecond, Transport: &kafkago.Transport{}}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: e.brokers, GroupID: kafkaGroup(topic), Topic: topic,
		StartOffset: kafkago.FirstOffset, CommitInterval: time.Second, MaxWait: 100 * time.Millisecond})
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.ReadMessage(rctx)
			if err != nil {
				return
			}
			got(m.Value)
		}
	}()
	pub := func(ctx context.Context, bodies [][]byte) error {
		msgs := make([]kafkago.Message, len(bodies))
		for i, b := range bodies {
			msgs[i] = kafkago.Message{Value: b}
		}
		return w.WriteMessages(ctx, msgs...)
	}
	return pub, func() { w.Close(); cancel(); <-done; r.Close() }, nil
}

func (e *env) watermillKafka(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error) {
	if err := e.kafkaTopic(ctx, topic); err != nil {
		return nil, nil, err
	}
	pcfg := wkafka.DefaultSaramaSyncPublisherConfig()
	pcfg.Producer.RequiredAcks = sarama.WaitForAll
	pub, err := wkafka.NewPublisher(wkafka.PublisherConfig{Brokers: e.brokers, Marshaler: wkafka.DefaultMarshaler{},
		OverwriteSaramaConfig: pcfg}, watermill.NopLogger{})
	if err != nil {
		return nil, nil, err
	}
	scfg := wkafka.DefaultSaramaSubscriberConfig()
	scfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := wkafka.NewSubscriber(wkafka.SubscriberConfig{Brokers: e.brokers, Unmarshaler: wkafka.DefaultMarshaler{},
		ConsumerGroup: kafkaGroup(topic), OverwriteSaramaConfig: scfg}, watermill.NopLogger{})
	if err != nil {
		pub.Close()
		return nil, nil, err
	}
	return watermillPair(pub, sub, topic, got)
}

// kafkaGroup is the consumer group of one run: a group of its own, so that
// no run waits on the rebalance of a member that an earlier run (another
// client's, on another topic) left behind in a shared group.
func kafkaGroup(topic string) string { return topic + "-group" }
