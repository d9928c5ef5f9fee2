package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
)

// TestFullWindowPausesFetching: while one message stays unfinished, its
// partition fetches at most about maxWindow messages past it, and resumes
// once it finishes, so that memory stays bounded and nothing is lost.
func TestFullWindowPausesFetching(t *testing.T) {
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 1)
	pub, err := NewPublisher(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// Small fetches of small record batches: the fetcher stops close to
	// the limit.
	sub, err := NewSubscriber(brokers, WithFetchMaxBytes(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const perCall, calls = 50, (2*maxWindow + 1000) / 50
	const n = perCall * calls
	const slack = 1000 // what one fetch may bring past the limit, generously
	var first string
	for i := 0; i < n; i += perCall {
		msgs := make([]*transport.Message, perCall)
		for j := range msgs {
			msgs[j] = &transport.Message{Payload: make([]byte, 100)}
		}
		if err := pub.Publish(ctx, topic, msgs...); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = msgs[0].ID
		}
	}

	release := make(chan struct{})
	var mu sync.Mutex
	others := map[string]bool{}
	progress := make(chan struct{}, 1)
	s, err := sub.Subscribe(ctx, topic, func(hctx context.Context, m *transport.Message) error {
		if m.ID == first {
			select {
			case <-release:
				return nil
			case <-hctx.Done():
				return hctx.Err()
			}
		}
		mu.Lock()
		others[m.ID] = true
		mu.Unlock()
		select {
		case progress <- struct{}{}:
		default:
		}
		return nil
	}, transport.WithStart(transport.StartOldest), transport.WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(others)
	}

	// Wait until the others stop coming: the window is full.
	for quiet := false; !quiet; {
		select {
		case <-progress:
		case <-time.After(300 * time.Millisecond):
			quiet = count() >= maxWindow-1
		case <-ctx.Done():
			t.Fatalf("%d messages handled past the unfinished one, want at least %d", count(), maxWindow-1)
		}
	}
	if got := count(); got > maxWindow+slack {
		t.Fatalf("%d messages handled past the unfinished one, want at most about %d", got, maxWindow)
	}

	close(release)
	for count() < n-1 {
		select {
		case <-progress:
		case <-time.After(time.Second):
		case <-ctx.Done():
			t.Fatalf("after the unfinished message finished, %d of %d others arrived", count(), n-1)
		}
	}
}
