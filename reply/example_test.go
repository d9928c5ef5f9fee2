package reply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/reply"
	"github.com/brokerkit/brokerkit/transport"
)

// A service answers requests on "greetings"; a client asks it, waits for the
// reply, and gets a failure of the service as a *reply.RemoteError. Only the
// URL changes on Kafka or RabbitMQ.
func Example() {
	ctx := context.Background()
	pub, _ := transport.OpenPublisher(ctx, "mem://example-reply")
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-reply")
	defer pub.Close()
	defer sub.Close()

	// The server: its function's result goes back to the caller.
	h, _ := reply.Handler(pub, func(ctx context.Context, req *transport.Message) (*transport.Message, error) {
		if len(req.Payload) == 0 {
			return nil, errors.New("whom should I greet?")
		}
		return &transport.Message{Payload: []byte("hello, " + string(req.Payload))}, nil
	})
	s, _ := sub.Subscribe(ctx, "greetings", h, transport.WithGroup("greeter"))
	defer s.Close()

	// The client.
	client, err := reply.NewClient(ctx, pub, sub)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	rep, err := client.Request(ctx, "greetings", &transport.Message{Payload: []byte("Ada")})
	fmt.Println(string(rep.Payload), err)

	_, err = client.Request(ctx, "greetings", &transport.Message{})
	var remote *reply.RemoteError
	fmt.Println(errors.As(err, &remote), remote.Message)
	// Output:
	// hello, Ada <nil>
	// true whom should I greet?
}

// Go returns at once and calls its function exactly once, with the reply or
// the error.
func ExampleClient_Go() {
	ctx := context.Background()
	pub, _ := transport.OpenPublisher(ctx, "mem://example-go")
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-go")
	defer pub.Close()
	defer sub.Close()

	h, _ := reply.Handler(pub, func(ctx context.Context, req *transport.Message) (*transport.Message, error) {
		return &transport.Message{Payload: []byte(strings.ToUpper(string(req.Payload)))}, nil
	})
	s, _ := sub.Subscribe(ctx, "shout", h, transport.WithGroup("shouter"))
	defer s.Close()
	client, _ := reply.NewClient(ctx, pub, sub)
	defer client.Close()

	done := make(chan struct{})
	client.Go(ctx, "shout", &transport.Message{Payload: []byte("callback")}, func(rep *transport.Message, err error) {
		defer close(done)
		if err != nil {
			fmt.Println("failed:", err)
			return
		}
		fmt.Println(string(rep.Payload))
	})
	<-done
	// Output:
	// CALLBACK
}

// A request nobody answers ends at the client's timeout (WithTimeout) or its
// context's deadline, whichever comes first, with the context error; nothing
// it started is left waiting.
func ExampleWithTimeout() {
	ctx := context.Background()
	pub, _ := transport.OpenPublisher(ctx, "mem://example-timeout")
	sub, _ := transport.OpenSubscriber(ctx, "mem://example-timeout")
	defer pub.Close()
	defer sub.Close()

	client, err := reply.NewClient(ctx, pub, sub, reply.WithTimeout(20*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer client.Close()

	_, err = client.Request(ctx, "nobody-listens", &transport.Message{Payload: []byte("hello?")})
	fmt.Println(errors.Is(err, context.DeadlineExceeded), client.Stats().Pending)
	// Output: true 0
}
