package amqp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"strings"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
)

// Open RabbitMQ by URL and reach the amqp091-go delivery of each message
// with Message.As. It needs a broker, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	const broker = "amqp://guest:guest@127.0.0.1:5672/?quorum=true"
	pub, err := transport.OpenPublisher(ctx, broker)
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	sub, err := transport.OpenSubscriber(ctx, broker)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// The group's queue is "orders.billing", a quorum queue here, bound to
	// the "orders" exchange.
	s, err := sub.Subscribe(ctx, "orders", func(ctx context.Context, m *transport.Message) error {
		var d amqp091.Delivery
		if m.As(&d) {
			log.Printf("%s from exchange %s, routing key %s, content type %q", m.ID, d.Exchange, d.RoutingKey, d.ContentType)
		}
		return nil
	}, transport.WithGroup("billing"), transport.WithPrefetch(32))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	m := &transport.Message{Key: "customer-7", Payload: []byte(`{"total":42}`)}
	m.SetMetadata(transport.MetaContentType, "application/json") // the content_type property
	if err := pub.Publish(ctx, "orders", m); err != nil {
		log.Fatal(err)
	}
}

// A service that already holds an amqp091-go connection hands it over: the
// publisher and subscriber open their channels on it and never close it, and
// reconnecting it stays the owner's business. Compiled, not run: it needs a
// broker.
func ExampleNewPublisherFromConnection() {
	conn, err := amqp091.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	pub, err := amqp.NewPublisherFromConnection(conn, amqp.WithExchangeType("direct"))
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(context.Background(), "invoices", &transport.Message{Key: "eu", Payload: []byte("42")}); err != nil {
		log.Fatal(err)
	}
}

// The subscriber's half of adopting a connection, on a service's existing
// topology (WithExistingTopology declares nothing, so a missing exchange or
// queue is an ErrNotFound error). Compiled, not run: it needs a broker.
func ExampleNewSubscriberFromConnection() {
	conn, err := amqp091.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	sub, err := amqp.NewSubscriberFromConnection(conn, amqp.WithExistingTopology(),
		amqp.WithQueueName(func(topic, group string) string { return "legacy." + group }))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	s, err := sub.Subscribe(context.Background(), "invoices", func(ctx context.Context, m *transport.Message) error {
		var d amqp091.Delivery
		if m.As(&d) {
			log.Printf("delivery tag %d, redelivered %v, headers %v", d.DeliveryTag, d.Redelivered, d.Headers)
		}
		return nil
	}, transport.WithGroup("billing"))
	if errors.Is(err, transport.ErrNotFound) {
		log.Fatal("declare legacy.billing first: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}

// ParseURL splits an amqp:// URL into what amqp091-go dials and brokerkit's
// options. A misspelt option is an ErrInvalid error, whose text never shows
// the password.
func ExampleParseURL() {
	u, _ := url.Parse("amqp://app:secret@rabbit:5672/shop?quorum=true&prefetch=64&heartbeat=10")
	dial, opts, err := amqp.ParseURL(u)
	fmt.Println(dial.Redacted(), err) // brokerkit's options are taken out
	_ = opts                          // for amqp.NewPublisher and amqp.NewSubscriber

	u, _ = url.Parse("amqp://app:secret@rabbit:5672/shop?qorum=true")
	_, _, err = amqp.ParseURL(u)
	fmt.Println(errors.Is(err, transport.ErrInvalid), strings.Contains(err.Error(), "secret"))
	// Output:
	// amqp://app:xxxxx@rabbit:5672/shop?heartbeat=10 <nil>
	// true false
}
