package reply_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/reply"
	"github.com/brokerkit/brokerkit/transport"
)

// TestLateReplyToClosedClientRabbitMQ: a server whose reply publisher uses
// the existing topology answers after its client closed and deleted its
// reply exchange. The reply is dropped, the request acked, and the
// exchange is not declared again.
func TestLateReplyToClosedClientRabbitMQ(t *testing.T) {
	url := brokertest.RabbitMQ(t)
	e := openRabbitMQ(t)
	topic := e.topic(t, "late")
	replyPub, err := amqp.NewPublisher(url, amqp.WithExistingTopology())
	if err != nil {
		t.Fatal(err)
	}
	defer replyPub.Close()
	started, release := make(chan struct{}), make(chan struct{})
	h, err := reply.Handler(replyPub, func(context.Context, *transport.Message) (*transport.Message, error) {
		close(started)
		<-release
		return &transport.Message{Payload: []byte("too late")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.sub.Subscribe(testContext(t, time.Minute), topic, h, transport.WithGroup("late"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	c, err := reply.NewClient(testContext(t, time.Minute), e.pub, e.sub, reply.WithTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	c.Go(context.Background(), topic, &transport.Message{}, func(_ *transport.Message, err error) { done <- err })
	<-started
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("request: %v, want ErrClosed", err)
	}
	close(release)

	// Closing the server waits for the handler; a request it failed would
	// be requeued, and show as ready.
	ctx := testContext(t, time.Minute)
	s.Close()
	if st, err := transport.Stats(ctx, e.sub, topic, "late"); err != nil || st.Ready != 0 {
		t.Fatalf("after the server closed: %+v, %v; want the request acked", st, err)
	}
	if brokertest.RabbitMQExchangeExists(t, url, c.ReplyTopic()) {
		brokertest.DeleteRabbitMQ(t, url, []string{c.ReplyTopic()}, nil)
		t.Fatalf("the reply exchange %s exists again", c.ReplyTopic())
	}
}
