package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

func nop(context.Context, *transport.Message) error { return nil }

func TestBadURL(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"kafka://127.0.0.1:9092?acks=all&no_such_option=1", "kafka://u:hunter2hunter2@h:1?sasl=plian"} {
		_, perr := transport.OpenPublisher(ctx, u)
		_, serr := transport.OpenSubscriber(ctx, u)
		for _, err := range []error{perr, serr} {
			if !errors.Is(err, transport.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", transport.RedactString(u), err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		}
	}
	if _, err := transport.OpenPublisher(ctx, "kafka://h:1?no_such_option=1"); err == nil ||
		!strings.Contains(err.Error(), "no_such_option") {
		t.Errorf("unknown option not named: %v", err)
	}
}

func TestOversizedRecords(t *testing.T) {
	// The broker takes batches of at most 2000 bytes; the client allows more.
	brokers := brokertest.Kafka(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "2000"}))
	topic := brokertest.KafkaTopic(t, brokers, 1)
	pub, err := kafka.NewPublisher(brokers, kafka.WithMaxMessageBytes(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	// Over the client's limit: refused before anything is sent.
	err = pub.Publish(ctx, topic, &transport.Message{Payload: make([]byte, 1001)})
	var pe *transport.PublishError
	if !errors.Is(err, transport.ErrTooLarge) || errors.As(err, &pe) {
		t.Errorf("payload over the client limit: %v, want ErrTooLarge before sending", err)
	}

	// Within the client's limit, over the broker's: the broker refuses it,
	// and the error names the message.
	big := &transport.Message{Payload: make([]byte, 900), Metadata: transport.Metadata{"pad": strings.Repeat("x", 2000)}}
	err = pub.Publish(ctx, topic, big)
	if !errors.Is(err, transport.ErrTooLarge) || !errors.As(err, &pe) || pe.Failed[0].ID != big.ID {
		t.Errorf("record over the broker limit: %v, want a PublishError with ErrTooLarge", err)
	}
	if err := pub.Publish(ctx, topic, &transport.Message{Payload: []byte("small")}); err != nil {
		t.Errorf("a small message after a refused one: %v", err)
	}
}

// TestTopicsCreatedByDefault: a missing topic is created on first use, as
// Apache Kafka does for its own clients, so that code written for another
// backend runs unchanged. (Without creation, ErrNotFound: the conformance
// suite's MissingTopic.)
func TestTopicsCreatedByDefault(t *testing.T) {
	brokers := brokertest.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// By default it is created, with the broker's defaults.
	cpub, csub := newPair(t, brokers)
	created := brokertest.Name(t, "created")
	t.Cleanup(func() { brokertest.DeleteKafkaTopic(t, brokers, created) })
	col := transporttest.NewCollector(nil)
	s, err := csub.Subscribe(ctx, created, col.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := cpub.Publish(ctx, created, &transport.Message{Key: "k", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	col.WaitAll(t, 1, wait)
}

func TestInvalidPublish(t *testing.T) {
	pub, err := kafka.NewPublisher([]string{"127.0.0.1:1"}) // never reached
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"empty topic":  pub.Publish(ctx, "", &transport.Message{}),
		"nil message":  pub.Publish(ctx, "t", nil),
		"reserved key": pub.Publish(ctx, "t", &transport.Message{Metadata: transport.Metadata{kafka.HeaderID: "x"}}),
		"no brokers":   func() error { _, err := kafka.NewPublisher(nil); return err }(),
		"bad option":   func() error { _, err := kafka.NewPublisher([]string{"h:1"}, kafka.WithMaxAttempts(0)); return err }(),
		"nil option":   func() error { _, err := kafka.NewSubscriber([]string{"h:1"}, nil); return err }(),
		"bad mechanism": func() error {
			_, err := kafka.NewSubscriber([]string{"h:1"}, kafka.WithSASL("md5", "u", "p"))
			return err
		}(),
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	pub.Close()
	pub.Close()
	if err := pub.Publish(ctx, "t", &transport.Message{}); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("publish after close: %v, want ErrClosed", err)
	}
	sub, err := kafka.NewSubscriber([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if _, err := sub.Subscribe(ctx, "t", nop); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("subscribe after close: %v, want ErrClosed", err)
	}
}
