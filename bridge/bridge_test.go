package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/bridge"
	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// collector records what reaches the destination topic.
type collector struct {
	mu   sync.Mutex
	seen map[string]*transport.Message
	dups int
	all  int
	ch   chan struct{}
}

func collect(t *testing.T, b *memory.Broker, topic string) *collector {
	t.Helper()
	c := &collector{seen: map[string]*transport.Message{}, ch: make(chan struct{}, 1)}
	sub, err := b.Subscribe(context.Background(), topic, func(_ context.Context, m *transport.Message) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.all++
		if _, ok := c.seen[m.ID]; ok {
			c.dups++
		} else {
			c.seen[m.ID] = m.Copy()
		}
		select {
		case c.ch <- struct{}{}:
		default:
		}
		return nil
	}, transport.WithGroup("check"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return c
}

// wait returns once n distinct messages arrived, failing after a generous
// limit (a safety net, not a timing assertion).
func (c *collector) wait(t *testing.T, n int) {
	t.Helper()
	limit := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.seen)
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.ch:
		case <-time.After(10 * time.Millisecond):
		case <-limit:
			t.Fatalf("%d of %d messages arrived", got, n)
		}
	}
}

func newBroker(t *testing.T) *memory.Broker {
	t.Helper()
	b, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func msgs(n int) []*transport.Message {
	out := make([]*transport.Message, n)
	for i := range out {
		out[i] = &transport.Message{
			ID:       fmt.Sprintf("m-%04d", i),
			Key:      fmt.Sprintf("k%d", i%7),
			Payload:  []byte{byte(i), 0, 0xff, byte(i >> 8)},
			Metadata: transport.Metadata{"n": fmt.Sprint(i), "": "empty key", "ünï": ""},
		}
	}
	return out
}

func start(t *testing.T, ctx context.Context, b *bridge.Bridge) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return done
}

func TestForwardsIDKeyPayloadMetadata(t *testing.T) {
	src, dst := newBroker(t), newBroker(t)
	got := collect(t, dst, "out")
	b, err := bridge.New(src, "in", dst, "out", bridge.WithSubscribeOptions(transport.WithGroup("bridge"), transport.WithConcurrency(4)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := start(t, ctx, b)
	select {
	case <-b.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("Ready not closed: the bridge did not subscribe")
	}
	want := msgs(200)
	if err := src.Publish(context.Background(), "in", want...); err != nil {
		t.Fatal(err)
	}
	got.wait(t, len(want))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, w := range want {
		g := got.seen[w.ID]
		if g.Key != w.Key || string(g.Payload) != string(w.Payload) || len(g.Metadata) != len(w.Metadata) {
			t.Fatalf("%s arrived as key %q payload %x metadata %v; sent key %q payload %x metadata %v",
				w.ID, g.Key, g.Payload, g.Metadata, w.Key, w.Payload, w.Metadata)
		}
		for k, v := range w.Metadata {
			if g.Metadata[k] != v {
				t.Fatalf("%s: metadata %q = %q, want %q", w.ID, k, g.Metadata[k], v)
			}
		}
	}
	c := b.Counters()
	if c.Forwarded != 200 || c.Received != 200 || c.Failed != 0 || c.Skipped != 0 || got.dups != 0 {
		t.Fatalf("counters %+v, duplicates %d", c, got.dups)
	}
}

// waitSubscribed creates the group on the memory broker, which keeps a
// group's messages from then on, so that messages published before the
// bridge subscribed are not lost to the test.
func waitSubscribed(t *testing.T, b *memory.Broker, topic, group string) {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), topic, func(context.Context, *transport.Message) error {
		return errors.New("probe never handles")
	}, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.Close()
}

func TestRestartMidStreamLosesNothing(t *testing.T) {
	src, dst := newBroker(t), newBroker(t)
	got := collect(t, dst, "out")
	waitSubscribed(t, src, "in", "bridge")
	const n = 2000
	published := make(chan error, 1)
	go func() {
		var err error
		for _, m := range msgs(n) {
			if err = src.Publish(context.Background(), "in", m); err != nil {
				break
			}
		}
		published <- err
	}()
	var total bridge.Counters
	for round := 0; round < 3; round++ {
		b, err := bridge.New(src, "in", dst, "out", bridge.WithSubscribeOptions(transport.WithGroup("bridge"), transport.WithConcurrency(3)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := start(t, ctx, b)
		if round < 2 {
			// Stop once some progress was made, mid-stream.
			for b.Counters().Forwarded < n/10 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			c := b.Counters()
			total.Forwarded += c.Forwarded
			continue
		}
		if err := <-published; err != nil {
			t.Fatal(err)
		}
		got.wait(t, n)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		total.Forwarded += b.Counters().Forwarded
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.seen) != n {
		t.Fatalf("%d distinct of %d", len(got.seen), n)
	}
	// A graceful stop acknowledges every confirmed forward, so nothing is
	// forwarded twice here.
	if got.dups != 0 || total.Forwarded != n {
		t.Fatalf("%d duplicates, %d forwards for %d messages", got.dups, total.Forwarded, n)
	}
}

// flaky refuses every third publish.
type flaky struct {
	transport.Publisher
	n atomic.Int64
}

func (f *flaky) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if f.n.Add(1)%3 == 0 {
		return driver.FailFrom(msgs, 0, transport.ErrUnavailable)
	}
	return f.Publisher.Publish(ctx, topic, msgs...)
}

func TestDestinationFailureRedelivers(t *testing.T) {
	src, dst := newBroker(t), newBroker(t)
	got := collect(t, dst, "out")
	waitSubscribed(t, src, "in", "bridge")
	b, err := bridge.New(src, "in", &flaky{Publisher: dst}, "out",
		bridge.WithSubscribeOptions(transport.WithGroup("bridge"), transport.WithBackoff(time.Millisecond, 5*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := start(t, ctx, b)
	if err := src.Publish(context.Background(), "in", msgs(60)...); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 60)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := b.Counters()
	if c.Failed == 0 || c.Forwarded != 60 || c.Received != c.Forwarded+c.Failed {
		t.Fatalf("counters %+v", c)
	}
}

func TestDedupDropsSourceDuplicates(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprint("dedup=", dedup), func(t *testing.T) {
			src, dst := newBroker(t), newBroker(t)
			got := collect(t, dst, "out")
			waitSubscribed(t, src, "in", "bridge")
			opts := []bridge.Option{bridge.WithSubscribeOptions(transport.WithGroup("bridge"))}
			if dedup {
				store, err := middleware.NewMemoryStore()
				if err != nil {
					t.Fatal(err)
				}
				mw, err := middleware.Dedup(store)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, bridge.WithMiddleware(mw))
			}
			b, err := bridge.New(src, "in", dst, "out", opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := start(t, ctx, b)
			// Every message twice, as a producer that retried would send it.
			all := append(msgs(20), msgs(20)...)
			if err := src.Publish(context.Background(), "in", all...); err != nil {
				t.Fatal(err)
			}
			for b.Counters().Received < 40 {
				time.Sleep(time.Millisecond)
			}
			got.wait(t, 20)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			c := b.Counters()
			want := 40
			if dedup {
				want = 20
			}
			if int(c.Forwarded) != want || int(c.Skipped) != 40-want {
				t.Fatalf("counters %+v, want %d forwarded", c, want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	b := newBroker(t)
	cases := map[string]func() error{
		"nil source":      func() error { _, err := bridge.New(nil, "a", b, "b"); return err },
		"nil destination": func() error { _, err := bridge.New(b, "a", nil, "b"); return err },
		"empty topic":     func() error { _, err := bridge.New(b, "", b, "b"); return err },
		"nil option":      func() error { _, err := bridge.New(b, "a", b, "b", nil); return err },
		"nil middleware":  func() error { _, err := bridge.New(b, "a", b, "b", bridge.WithMiddleware(nil)); return err },
		"nil transform":   func() error { _, err := bridge.New(b, "a", b, "b", bridge.WithTransform(nil)); return err },
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
