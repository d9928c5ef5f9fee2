package amqp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
)

func TestUnknownURLOption(t *testing.T) {
	for _, raw := range []string{
		"amqp://guest:s3cret@127.0.0.1:5672/?bogus=1",
		"amqp://guest:s3cret@127.0.0.1:5672/?quorum=maybe",
		"amqp://guest:s3cret@127.0.0.1:5672/?channels=0",
		"amqp://guest:s3cret@127.0.0.1:5672/?exchange_type=nonsense",
		"amqp://guest:s3cret@127.0.0.1:5672/?dead_letter_routing_key=x",
		"amqp://guest:s3cret@127.0.0.1:5672/?heartbeat=-1",
		"amqps://guest:s3cret@127.0.0.1:5672/?message_ttl=10",
		"amqp://guest:s3cret@127.0.0.1:5672/?prefetch=x",
		"amqp://guest:s3cret@127.0.0.1:5672/?mandatory=true&confirms=false",
	} {
		_, err := amqp.NewPublisher(raw)
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("NewPublisher(%s): %v, want ErrInvalid", raw, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
		if _, err := transport.OpenSubscriber(context.Background(), raw); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("OpenSubscriber(%s): %v, want ErrInvalid", raw, err)
		}
	}
	_, err := amqp.NewPublisher("amqp://guest:s3cret@127.0.0.1:5672/?bogus=1")
	if !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("the error does not name the unknown option: %v", err)
	}
}

func TestMalformedURLHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"amqp://guest:s3cret@127.0.0.1:port/",
		"amqp://guest:s3cret@[::1/",
		"http://guest:s3cret@127.0.0.1/",
	} {
		_, err := amqp.NewSubscriber(raw)
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("NewSubscriber(%s): %v, want ErrInvalid", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestBadPublishInput(t *testing.T) {
	// Checked before anything is sent: no broker needed.
	pub, err := amqp.NewPublisher("amqp://guest:guest@127.0.0.1:1/", amqp.WithMaxPayload(10))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx := context.Background()
	long := strings.Repeat("x", 256)
	for name, err := range map[string]error{
		"empty topic":        pub.Publish(ctx, "", &transport.Message{}),
		"nil message":        pub.Publish(ctx, "t", nil),
		"reserved topic":     pub.Publish(ctx, "amq.topic", &transport.Message{}),
		"long topic":         pub.Publish(ctx, long, &transport.Message{}),
		"long routing key":   pub.Publish(ctx, "t", &transport.Message{Key: long}),
		"long header name":   pub.Publish(ctx, "t", &transport.Message{Metadata: transport.Metadata{long: "v"}}),
		"payload over limit": pub.Publish(ctx, "t", &transport.Message{Payload: make([]byte, 11)}),
	} {
		if !errors.Is(err, transport.ErrInvalid) && !errors.Is(err, transport.ErrTooLarge) {
			t.Errorf("%s: %v, want ErrInvalid or ErrTooLarge", name, err)
		}
		if transport.Retryable(err) {
			t.Errorf("%s: %v classified as retryable", name, err)
		}
	}
}

func TestBadSubscribeInput(t *testing.T) {
	sub, err := amqp.NewSubscriber("amqp://guest:guest@127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ok := func(context.Context, *transport.Message) error { return nil }
	ctx := context.Background()
	for name, err := range map[string]error{
		"empty topic":    subErr(sub.Subscribe(ctx, "", ok)),
		"nil handler":    subErr(sub.Subscribe(ctx, "t", nil)),
		"reserved topic": subErr(sub.Subscribe(ctx, "amq.direct", ok)),
		"huge prefetch":  subErr(sub.Subscribe(ctx, "t", ok, transport.WithPrefetch(70000))),
		"start oldest":   subErr(sub.Subscribe(ctx, "t", ok, transport.WithStart(transport.StartOldest))),
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	const u = "amqp://127.0.0.1/"
	newPubErr := func(o amqp.PublisherOption) error { _, err := amqp.NewPublisher(u, o); return err }
	newSubErr := func(o amqp.SubscriberOption) error { _, err := amqp.NewSubscriber(u, o); return err }
	for name, err := range map[string]error{
		"nil publisher option":  newPubErr(nil),
		"nil subscriber option": newSubErr(nil),
		"channels":              newPubErr(amqp.WithChannels(0)),
		"window":                newPubErr(amqp.WithConfirmWindow(-1)),
		"payload":               newPubErr(amqp.WithMaxPayload(0)),
		"routing key":           newPubErr(amqp.WithRoutingKey(nil)),
		"ttl":                   newSubErr(amqp.WithMessageTTL(time.Microsecond)),
		"max length":            newSubErr(amqp.WithMaxLength(0)),
		"prefetch":              newSubErr(amqp.WithDefaultPrefetch(0)),
		"binding key":           newSubErr(amqp.WithBindingKey(strings.Repeat("k", 256))),
		"dead letter":           newSubErr(amqp.WithDeadLetterExchange(strings.Repeat("d", 256), "")),
		"queue arguments":       newSubErr(amqp.WithQueueArgs(map[string]any{"x-bad": struct{}{}})),
		"exchange type (pub)":   newPubErr(amqp.WithExchangeType("round-robin")),
		"exchange type (sub)":   newSubErr(amqp.WithExchangeType("round-robin")),
		"queue name":            newPubErr(amqp.WithQueueName(nil)),
		"backoff":               newSubErr(amqp.WithReconnectBackoff(time.Second, time.Millisecond)),
		"tls":                   newPubErr(amqp.WithTLS(nil)),
		"logger":                newSubErr(amqp.WithLogger(nil)),
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// subErr closes a subscription that should not have started.
func subErr(s *transport.Subscription, err error) error {
	if s != nil {
		s.Close()
	}
	return err
}
