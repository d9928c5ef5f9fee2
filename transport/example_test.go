package transport_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	_ "github.com/brokerkit/brokerkit/memory" // registers mem://
	"github.com/brokerkit/brokerkit/transport"
)

// Open a publisher and a subscriber by URL, subscribe a group and publish.
// Swap "mem://" for "kafka://broker:9092" or
// "amqp://user:pass@host:5672/vhost" and the same code runs on Kafka or
// RabbitMQ. This is the README's "A taste", compiled and run: keep the two
// alike.
func Example() {
	ctx := context.Background()
	pub, err := transport.OpenPublisher(ctx, "mem://")
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	sub, err := transport.OpenSubscriber(ctx, "mem://")
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	done := make(chan struct{})
	s, err := sub.Subscribe(ctx, "orders", func(ctx context.Context, m *transport.Message) error {
		fmt.Printf("order %s (attempt %d): %s\n", m.Key, m.Attempt, m.Payload)
		close(done)
		return nil // ack; an error has the message delivered again
	}, transport.WithGroup("billing"), transport.WithConcurrency(8))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	err = pub.Publish(ctx, "orders", &transport.Message{Key: "customer-7", Payload: []byte(`{"total":42}`)})
	if err != nil {
		panic(err)
	}
	<-done
	// Output: order customer-7 (attempt 1): {"total":42}
}

// "mem://NAME" names a broker of the process, so that a publisher and a
// subscriber opened from the same URL reach each other. WithLogger gives the
// client a logger for what the backend logs (reconnects, retries); a URL
// whose scheme no imported backend registered is an ErrInvalid error.
func ExampleOpenPublisher() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pub, err := transport.OpenPublisher(ctx, "mem://example-open", transport.WithLogger(logger))
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	// The broker keeps what a group has not consumed yet, so the group
	// subscribing after the publish still gets it.
	sub, err := transport.OpenSubscriber(ctx, "mem://example-open")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	warm, _ := sub.Subscribe(ctx, "greetings", func(context.Context, *transport.Message) error { return nil },
		transport.WithGroup("greeter"))
	_ = warm.Close() // the group's queue stays

	_ = pub.Publish(ctx, "greetings", &transport.Message{Payload: []byte("hello")})
	got := make(chan string, 1)
	s, _ := sub.Subscribe(ctx, "greetings", func(_ context.Context, m *transport.Message) error {
		got <- string(m.Payload)
		return nil
	}, transport.WithGroup("greeter"))
	defer s.Close()
	fmt.Println(<-got)

	_, err = transport.OpenPublisher(ctx, "nosuchbroker://host")
	fmt.Println(errors.Is(err, transport.ErrInvalid))
	// Output:
	// hello
	// true
}

// Chain's first middleware runs outermost: it sees the message first and
// the handler's result last.
func ExampleChain() {
	trace := func(name string) transport.Middleware {
		return func(next transport.Handler) transport.Handler {
			return func(ctx context.Context, m *transport.Message) error {
				fmt.Println(name, "before")
				err := next(ctx, m)
				fmt.Println(name, "after")
				return err
			}
		}
	}
	h := transport.Chain(func(context.Context, *transport.Message) error {
		fmt.Println("handler")
		return nil
	}, trace("a"), trace("b"))

	_ = h(context.Background(), &transport.Message{})
	// Output:
	// a before
	// b before
	// handler
	// b after
	// a after
}

// Publisher middleware wrap Publish the same way: the first runs outermost.
func ExampleChainPublisher() {
	stamp := func(key, value string) transport.PublisherMiddleware {
		return func(next transport.Publisher) transport.Publisher {
			return transport.PublisherFunc(func(ctx context.Context, topic string, msgs ...*transport.Message) error {
				for _, m := range msgs {
					m.SetMetadata(key, m.Metadata.Get(key)+value)
				}
				return next.Publish(ctx, topic, msgs...)
			})
		}
	}
	sink := transport.PublisherFunc(func(_ context.Context, topic string, msgs ...*transport.Message) error {
		for _, m := range msgs {
			fmt.Println(topic, m.Metadata.Get("path"))
		}
		return nil
	})
	pub := transport.ChainPublisher(sink, stamp("path", "a"), stamp("path", "b"))
	_ = pub.Publish(context.Background(), "orders", &transport.Message{})
	// Output: orders ab
}

// CodeOf classifies any error, and Retryable says whether trying the same
// thing again may help.
func ExampleCodeOf() {
	errs := []error{
		nil,
		transport.ErrInvalid,
		fmt.Errorf("publish: %w", transport.ErrUnavailable),
		transport.ErrClosed,
		context.Canceled,
		context.DeadlineExceeded,
		transport.Permanent(errors.New("cannot parse payload")),
		errors.New("something else"),
	}
	for _, err := range errs {
		fmt.Printf("%v: %v, retryable %v\n", err, transport.CodeOf(err), transport.Retryable(err))
	}
	// Output:
	// <nil>: OK, retryable false
	// brokerkit: invalid argument: Invalid, retryable false
	// publish: brokerkit: broker unavailable: Unavailable, retryable true
	// brokerkit: closed: Closed, retryable false
	// context canceled: Canceled, retryable false
	// context deadline exceeded: DeadlineExceeded, retryable true
	// cannot parse payload: Permanent, retryable false
	// something else: Unknown, retryable true
}

// A handler marks an error that no retry will fix as Permanent: retry
// middleware give up at once and dead-lettering happens on the first
// failure. The original error stays reachable.
func ExamplePermanent() {
	errBadJSON := errors.New("bad JSON")
	err := transport.Permanent(fmt.Errorf("order 7: %w", errBadJSON))

	fmt.Println(err)
	fmt.Println(transport.Retryable(err), transport.CodeOf(err))
	fmt.Println(errors.Is(err, errBadJSON))
	// Output:
	// order 7: bad JSON
	// false Permanent
	// true
}

// Bad input is refused with an ErrInvalid error before anything is sent or
// subscribed, on every backend.
func Example_badInput() {
	ctx := context.Background()
	pub, _ := transport.OpenPublisher(ctx, "mem://example-invalid")
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-invalid")
	defer pub.Close()
	defer sub.Close()
	noop := func(context.Context, *transport.Message) error { return nil }

	err := pub.Publish(ctx, "", &transport.Message{Payload: []byte("x")})
	fmt.Println("empty topic:", errors.Is(err, transport.ErrInvalid))
	err = pub.Publish(ctx, "orders", nil)
	fmt.Println("nil message:", errors.Is(err, transport.ErrInvalid))
	_, err = sub.Subscribe(ctx, "orders", noop, transport.WithConcurrency(0))
	fmt.Println("concurrency 0:", errors.Is(err, transport.ErrInvalid))
	_, err = sub.Subscribe(ctx, "orders", nil)
	fmt.Println("nil handler:", errors.Is(err, transport.ErrInvalid), transport.CodeOf(err))
	// Output:
	// empty topic: true
	// nil message: true
	// concurrency 0: true
	// nil handler: true Invalid
}

// The context given to Subscribe bounds only setting the subscription up.
// WithLifetime ties a subscription to a context, here one that ends at
// shutdown: when it ends the subscription stops as Close stops it, and Err
// says why.
func ExampleWithLifetime() {
	ctx := context.Background()
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-lifetime")
	defer sub.Close()

	shutdown, stop := context.WithCancel(context.Background())
	s, err := sub.Subscribe(ctx, "orders", func(context.Context, *transport.Message) error { return nil },
		transport.WithGroup("billing"), transport.WithLifetime(shutdown))
	if err != nil {
		panic(err)
	}

	stop()
	<-s.Done()
	fmt.Println(s.Err())
	// Output: context canceled
}

// A subscription stops when it is closed, whatever became of Subscribe's
// context; Close drains what it had taken and reports the error that ended
// the subscription, nil after a clean stop.
func ExampleSubscription_Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-close")
	defer sub.Close()
	s, _ := sub.Subscribe(ctx, "orders", func(context.Context, *transport.Message) error { return nil })
	cancel() // ends the set-up context: the subscription runs on

	select {
	case <-s.Done():
		fmt.Println("ended early")
	default:
		fmt.Println("running")
	}
	fmt.Println(s.Close(), s.Err())
	<-s.Done()
	fmt.Println("done")
	// Output:
	// running
	// <nil> <nil>
	// done
}

// Stats reads a group's backlog from anything a backend returned that offers
// it (queue depth on RabbitMQ and memory, consumer lag on Kafka), and Purge
// drops it. Asked of something without the capability, both return an error
// that matches errors.ErrUnsupported.
func ExampleStats() {
	ctx := context.Background()
	pub, _ := transport.OpenPublisher(ctx, "mem://example-stats")
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-stats")
	defer pub.Close()
	defer sub.Close()

	s, _ := sub.Subscribe(ctx, "orders", func(context.Context, *transport.Message) error { return nil },
		transport.WithGroup("billing"))
	_ = s.Close() // the group's queue stays and fills up
	for i := range 3 {
		_ = pub.Publish(ctx, "orders", &transport.Message{Payload: fmt.Append(nil, i)})
	}

	st, err := transport.Stats(ctx, sub, "orders", "billing")
	fmt.Println(st.Backlog, st.Consumers, err)
	n, err := transport.Purge(ctx, sub, "orders", "billing")
	fmt.Println(n, err)

	noop := transport.PublisherFunc(func(context.Context, string, ...*transport.Message) error { return nil })
	_, err = transport.Stats(ctx, noop, "orders", "billing")
	fmt.Println(errors.Is(err, errors.ErrUnsupported))
	// Output:
	// 3 0 <nil>
	// 3 <nil>
	// true
}

// The well-known metadata names keep their meaning across brokers: on
// RabbitMQ they travel as the AMQP properties of the same name.
func ExampleMessage_SetMetadata() {
	m := &transport.Message{Payload: []byte(`{"total":42}`)}
	m.SetMetadata(transport.MetaContentType, "application/json")
	m.SetMetadata(transport.MetaCorrelationID, "req-1")

	fmt.Println(m.Metadata.Get(transport.MetaContentType))
	fmt.Println(m.Metadata.Get(transport.MetaCorrelationID))
	fmt.Printf("%q\n", m.Metadata.Get(transport.MetaReplyTo)) // absent
	// Output:
	// application/json
	// req-1
	// ""
}
