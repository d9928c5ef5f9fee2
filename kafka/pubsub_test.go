package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

const wait = 20 * time.Second

func newPair(t *testing.T, brokers []string, opts ...kafka.Option) (*kafka.Publisher, *kafka.Subscriber) {
	t.Helper()
	var pubOpts []kafka.PublisherOption
	var subOpts []kafka.SubscriberOption
	for _, o := range opts {
		pubOpts, subOpts = append(pubOpts, o), append(subOpts, o)
	}
	return newPairWith(t, brokers, pubOpts, subOpts)
}

// newPairWith is newPair with options of each role.
func newPairWith(t *testing.T, brokers []string, pubOpts []kafka.PublisherOption, subOpts []kafka.SubscriberOption) (*kafka.Publisher, *kafka.Subscriber) {
	t.Helper()
	pub, err := kafka.NewPublisher(brokers, pubOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	sub, err := kafka.NewSubscriber(brokers, subOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return pub, sub
}

func TestPublishSubscribe(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 3)
	pub, sub := newPair(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	for _, group := range []string{"", brokertest.Name(t, "g")} {
		t.Run(fmt.Sprintf("group=%q", group), func(t *testing.T) {
			c := transporttest.NewCollector(nil)
			var opts []transport.SubscribeOption
			if group != "" {
				opts = append(opts, transport.WithGroup(group))
			}
			s, err := sub.Subscribe(ctx, topic, c.Handle, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var msgs []*transport.Message
			for i := range 20 {
				msgs = append(msgs, &transport.Message{Key: fmt.Sprint("k", i%4), Payload: []byte(fmt.Sprint(i)),
					Metadata: transport.Metadata{"n": fmt.Sprint(i)}})
			}
			if err := pub.Publish(ctx, topic, msgs...); err != nil {
				t.Fatal(err)
			}
			got := c.WaitAll(t, 20, wait)
			ids := map[string]bool{}
			for _, m := range got {
				ids[m.ID] = true
				if m.Metadata.Get("n") != string(m.Payload) {
					t.Errorf("metadata %v, payload %q", m.Metadata, m.Payload)
				}
			}
			for _, m := range msgs {
				if !ids[m.ID] {
					t.Errorf("message %s not delivered", m.ID)
				}
			}
		})
	}
}
