package amqp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withPassword returns the broker URL with its password replaced.
func withPassword(t *testing.T, raw, password string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	user := "guest"
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// TestWrongPassword: refused credentials are a clear ErrUnauthorized error,
// at once rather than at the context's deadline, and neither the error nor
// the log shows the password.
func TestWrongPassword(t *testing.T) {
	e := newEnv(t)
	const password = "wrong-Pa55word-xyzzy"
	raw := withPassword(t, e.url, password)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	pub, err := amqp.NewPublisher(raw, amqp.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := amqp.NewSubscriber(raw, amqp.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// RabbitMQ waits about 3s before refusing a login: try both at once.
	var pubErr, subErrv error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pubErr = pub.Publish(ctx, e.names.topic(), &transport.Message{Payload: []byte("x")})
	}()
	go func() {
		defer wg.Done()
		subErrv = subErr(sub.Subscribe(ctx, e.names.topic(), func(context.Context, *transport.Message) error { return nil }))
	}()
	wg.Wait()
	errs := map[string]error{"publish": pubErr, "subscribe": subErrv}
	if ctx.Err() != nil {
		t.Fatal("refused credentials were retried until the context ended")
	}
	for op, err := range errs {
		if !errors.Is(err, transport.ErrUnauthorized) {
			t.Errorf("%s: %v, want ErrUnauthorized", op, err)
		}
		if transport.Retryable(err) {
			t.Errorf("%s: refused credentials classified as retryable", op)
		}
		var ae *amqp091.Error
		if !errors.As(err, &ae) {
			t.Errorf("%s: the *amqp091.Error is not reachable with errors.As: %v", op, err)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", op, err)
		}
		t.Logf("%s: %v", op, err)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}

// TestTLSToPlainPort: amqps:// against a port that speaks plain AMQP fails
// the handshake with an error, not a hang, and without the password.
func TestTLSToPlainPort(t *testing.T) {
	e := newEnv(t)
	u, _ := url.Parse(withPassword(t, e.url, "tls-s3cret"))
	u.Scheme = "amqps"
	if u.Port() == "" {
		u.Host += ":5672"
	}
	pub, err := amqp.NewPublisher(u.String(), amqp.WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = pub.Publish(ctx, e.names.topic(), &transport.Message{})
	if err == nil {
		t.Fatal("publishing over TLS to a plain port succeeded")
	}
	if strings.Contains(err.Error(), "tls-s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestAdoptedConnection: publishers and subscribers on a connection the
// caller owns work, and closing them leaves the connection open.
func TestAdoptedConnection(t *testing.T) {
	e := newEnv(t)
	conn, err := amqp091.Dial(e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pub, err := amqp.NewPublisherFromConnection(conn)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := amqp.NewSubscriberFromConnection(conn, amqp.WithQueueName(e.names.queueName))
	if err != nil {
		t.Fatal(err)
	}
	topic := e.names.topic()
	c := transporttest.NewCollector(nil)
	if _, err := sub.Subscribe(ctxFor(t), topic, c.Handle, transport.WithGroup(e.names.group())); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("adopted")}); err != nil {
		t.Fatal(err)
	}
	if got := c.WaitAll(t, 1, wait); string(got[0].Payload) != "adopted" {
		t.Errorf("payload %q", got[0].Payload)
	}
	pub.Close()
	sub.Close()
	if conn.IsClosed() {
		t.Fatal("closing the publisher and subscriber closed the adopted connection")
	}
	if _, err := amqp.NewPublisherFromConnection(conn, amqp.WithTLS(&tls.Config{})); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("WithTLS on an adopted connection: %v, want ErrInvalid", err)
	}
	if _, err := amqp.NewSubscriberFromConnection(nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("nil connection: %v, want ErrInvalid", err)
	}
}

// TestCertificateRefused: a broker whose certificate fails verification is
// refused at once with a permanent ErrUnauthorized, on publish and on
// subscribe, not retried as an outage until the context ends.
func TestCertificateRefused(t *testing.T) {
	// Any TLS listener serves: the client gives up in the handshake. This
	// one's certificate is signed by nobody the client trusts.
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	u := "amqps://guest:cert-s3cret@" + srv.Listener.Addr().String() + "/"
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	pub, err := amqp.NewPublisher(u)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	err = pub.Publish(ctx, "t", &transport.Message{})
	if !errors.Is(err, transport.ErrUnauthorized) || transport.Retryable(err) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("publish: %v, want a permanent ErrUnauthorized before the deadline", err)
	}
	sub, err := amqp.NewSubscriber(u)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	_, err = sub.Subscribe(ctx, "t", func(context.Context, *transport.Message) error { return nil })
	if !errors.Is(err, transport.ErrUnauthorized) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("subscribe: %v, want ErrUnauthorized before the deadline", err)
	}
	if err != nil && strings.Contains(err.Error(), "cert-s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}
