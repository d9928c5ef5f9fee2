package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

// Open Kafka by URL and reach the kafka-go record of each delivery with
// Message.As. It needs a Kafka broker, so it is compiled but not run
// (`brokerkit dev kafka` starts one on 127.0.0.1:9092).
func Example() {
	ctx := context.Background()
	pub, err := transport.OpenPublisher(ctx, "kafka://127.0.0.1:9092?acks=all")
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	sub, err := transport.OpenSubscriber(ctx, "kafka://127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	s, err := sub.Subscribe(ctx, "orders", func(ctx context.Context, m *transport.Message) error {
		var rec kafkago.Message // the value type, not a pointer
		if m.As(&rec) {
			log.Printf("%s: partition %d offset %d (high water mark %d)", m.ID, rec.Partition, rec.Offset, rec.HighWaterMark)
		}
		return nil
	}, transport.WithGroup("billing"), transport.WithStart(transport.StartOldest))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Missing topics are created on first use (kafka.WithoutCreateTopics,
	// or create_topics=false in the URL, turns that off).
	if err := pub.Publish(ctx, "orders", &transport.Message{Key: "customer-7", Payload: []byte(`{"total":42}`)}); err != nil {
		log.Fatal(err)
	}
}

// A service that already configured a kafka-go Transport (TLS, SASL, its own
// dialer) hands it over; brokerkit uses it and never closes it. Compiled, not
// run: it needs a broker.
func ExampleWithTransport() {
	shared := &kafkago.Transport{
		ClientID:    "billing-service",
		DialTimeout: 5 * time.Second,
		// TLS: tlsConfig, SASL: mechanism, ...
	}
	pub, err := kafka.NewPublisher([]string{"127.0.0.1:9092"}, kafka.WithTransport(shared))
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(context.Background(), "orders", &transport.Message{Payload: []byte("42")}); err != nil {
		log.Fatal(err)
	}
}

// A subscriber adopts an existing kafka-go Dialer for the connections it
// holds to the group coordinator and the partition leaders. Compiled, not
// run: it needs a broker.
func ExampleWithDialer() {
	dialer := &kafkago.Dialer{ClientID: "billing-service", Timeout: 10 * time.Second, DualStack: true}
	sub, err := kafka.NewSubscriber([]string{"127.0.0.1:9092"}, kafka.WithDialer(dialer), kafka.WithCommitInterval(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	s, err := sub.Subscribe(context.Background(), "orders", func(ctx context.Context, m *transport.Message) error {
		var rec kafkago.Message
		if m.As(&rec) {
			for _, h := range rec.Headers { // the raw record headers, as another producer wrote them
				log.Printf("header %s=%s", h.Key, h.Value)
			}
		}
		return nil
	}, transport.WithGroup("billing"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}

// ParseURL shows what a kafka:// URL means: the brokers, and options that
// NewPublisher and NewSubscriber take. A misspelt option is an ErrInvalid
// error, whose text never shows the password.
func ExampleParseURL() {
	u, _ := url.Parse("kafka://user:secret@k1:9092,k2:9092?sasl=scram-sha-512&acks=all&compression=zstd")
	brokers, opts, err := kafka.ParseURL(u)
	fmt.Println(brokers, err)
	_ = opts // for kafka.NewPublisher(brokers, opts...) and kafka.NewSubscriber

	u, _ = url.Parse("kafka://user:secret@k1:9092?sasl=scram-sha-512&ackz=all")
	_, _, err = kafka.ParseURL(u)
	fmt.Println(errors.Is(err, transport.ErrInvalid), strings.Contains(err.Error(), "secret"))
	// Output:
	// [k1:9092 k2:9092] <nil>
	// true false
}
