package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

func newBroker(t testing.TB, opts ...memory.Option) *memory.Broker {
	t.Helper()
	b, err := memory.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestConformance runs the suite on a named broker reached by URL: each
// publisher and subscriber is a handle on it, so closing one leaves the
// broker to the others, as with a real broker.
func TestConformance(t *testing.T) {
	const maxPayload = 4 << 20
	url := "mem://conformance?max_payload=4194304"
	transporttest.Run(t, transporttest.Harness{
		NewPublisher: func(t testing.TB) transport.Publisher {
			p, err := transport.OpenPublisher(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		NewSubscriber: func(t testing.TB) transport.Subscriber {
			s, err := transport.OpenSubscriber(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Caps: transporttest.Capabilities{
			Groups: true, Ephemeral: true, Durable: true, Redelivery: true,
			Ordering: true, PublishTime: true, MaxPayload: maxPayload,
		},
	})
}

func TestStartOldestIsRefused(t *testing.T) {
	b := newBroker(t)
	_, err := b.Subscribe(t.Context(), "t", func(context.Context, *transport.Message) error { return nil },
		transport.WithStart(transport.StartOldest))
	if !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("StartOldest on memory: %v, want ErrInvalid", err)
	}
}

func TestPublishWaitsForRoomUntilContextEnds(t *testing.T) {
	b := newBroker(t, memory.WithCapacity(2))
	release := make(chan struct{})
	got := make(chan string, 10)
	_, err := b.Subscribe(t.Context(), "t", func(_ context.Context, m *transport.Message) error {
		<-release
		got <- string(m.Payload)
		return nil
	}, transport.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"1", "2"} {
		if err := b.Publish(t.Context(), "t", &transport.Message{Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	// The group holds its capacity: the next publish waits, then gives up
	// with its context, and says so.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := b.Publish(ctx, "t", &transport.Message{Payload: []byte("3")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish into a full queue: %v, want DeadlineExceeded", err)
	}
	// Room made by the handler lets a publish through.
	close(release)
	if err := b.Publish(t.Context(), "t", &transport.Message{Payload: []byte("4")}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for range 3 {
		order = append(order, <-got)
	}
	if fmt.Sprint(order) != "[1 2 4]" {
		t.Errorf("handled %v, want [1 2 4]", order)
	}
}

func TestURLHandlesShareANamedBroker(t *testing.T) {
	ctx := t.Context()
	pub, err := transport.OpenPublisher(ctx, "mem://shared-test")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := transport.OpenSubscriber(ctx, "mem://shared-test")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, 1)
	if _, err := sub.Subscribe(ctx, "t", func(_ context.Context, m *transport.Message) error {
		got <- string(m.Payload)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "t", &transport.Message{Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "hi" {
		t.Errorf("got %q", p)
	}
	pub.Close()
	// Closing one handle leaves the broker to the others.
	other, _ := transport.OpenPublisher(ctx, "mem://shared-test")
	if err := other.Publish(ctx, "t", &transport.Message{Payload: []byte("again")}); err != nil {
		t.Errorf("publish through another handle after one closed: %v", err)
	}
	if _, err := transport.OpenPublisher(ctx, "mem://shared-test?capacity=5"); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("reopening with another capacity: %v, want ErrInvalid", err)
	}
	if _, err := transport.OpenPublisher(ctx, "mem://x?capacty=5"); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("misspelt option: %v, want ErrInvalid", err)
	}
}
