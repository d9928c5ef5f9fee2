package transport_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

func TestChainRunsFirstOutermost(t *testing.T) {
	var trace []string
	mw := func(name string) transport.Middleware {
		return func(next transport.Handler) transport.Handler {
			return func(ctx context.Context, m *transport.Message) error {
				trace = append(trace, name+">")
				err := next(ctx, m)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	h := transport.Chain(func(context.Context, *transport.Message) error {
		trace = append(trace, "h")
		return nil
	}, mw("a"), mw("b"))
	h(context.Background(), &transport.Message{})
	if got := strings.Join(trace, " "); got != "a> b> h <b <a" {
		t.Errorf("order %q", got)
	}
}

func TestPrepare(t *testing.T) {
	ctx := context.Background()
	m := &transport.Message{Payload: []byte("12345")}
	if err := transport.Prepare(ctx, "t", []*transport.Message{m}, 5); err != nil || m.ID == "" {
		t.Fatalf("Prepare: %v, ID %q", err, m.ID)
	}
	if err := transport.Prepare(ctx, "t", []*transport.Message{m}, 4); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	n := &transport.Message{}
	if err := transport.Prepare(ctx, "t", []*transport.Message{n, nil}, 0); !errors.Is(err, transport.ErrInvalid) || n.ID != "" {
		t.Errorf("nil message: %v; ID assigned before validation finished: %q", err, n.ID)
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if err := transport.Prepare(nil, "t", nil, 0); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("nil context: %v, want ErrInvalid", err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := transport.Prepare(ended, "t", []*transport.Message{{}}, 0); err != context.Canceled {
		t.Errorf("ended context: %v, want context.Canceled unwrapped", err)
	}
}

func TestPrepareSubscribe(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context, *transport.Message) error { return nil }
	cfg, err := transport.PrepareSubscribe(ctx, "t", ok, []transport.SubscribeOption{transport.WithConcurrency(3)})
	if err != nil || cfg.Concurrency != 3 {
		t.Fatalf("valid call: %+v, %v", cfg, err)
	}
	for name, err := range map[string]error{
		"empty topic": second(transport.PrepareSubscribe(ctx, "", ok, nil)),
		"nil handler": second(transport.PrepareSubscribe(ctx, "t", nil, nil)),
		"bad option":  second(transport.PrepareSubscribe(ctx, "t", ok, []transport.SubscribeOption{transport.WithConcurrency(0)})),
		"nil context": second(transport.PrepareSubscribe(nil, "t", ok, nil)), //lint:ignore SA1012 the bad input under test
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestSubscribeOptions(t *testing.T) {
	cfg, err := transport.NewSubscribeConfig()
	if err != nil || cfg.Concurrency != 1 || cfg.Prefetch != 8 || cfg.DrainTimeout != 10*time.Second {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, _ = transport.NewSubscribeConfig(transport.WithConcurrency(16))
	if cfg.Prefetch != 32 {
		t.Errorf("prefetch at concurrency 16: %d, want 32", cfg.Prefetch)
	}
	bad := []transport.SubscribeOption{
		transport.WithGroup(""), transport.WithConcurrency(0), transport.WithPrefetch(-1),
		transport.WithDrainTimeout(-time.Second), transport.WithStart(7),
		transport.WithBackoff(time.Second, time.Millisecond), nil,
	}
	for i, o := range bad {
		if _, err := transport.NewSubscribeConfig(o); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("bad option #%d: %v", i, err)
		}
	}
	cfg, _ = transport.NewSubscribeConfig(transport.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	var got []time.Duration
	for a := 1; a <= 5; a++ {
		got = append(got, cfg.Backoff(a))
	}
	if fmt.Sprint(got) != "[10ms 20ms 40ms 50ms 50ms]" {
		t.Errorf("backoff %v", got)
	}
}

func TestMessage(t *testing.T) {
	m := &transport.Message{Payload: []byte("p"), Metadata: transport.Metadata{"k": "v"}}
	c := m.Copy()
	c.Payload[0] = 'x'
	c.Metadata["k"] = "changed"
	if string(m.Payload) != "p" || m.Metadata.Get("k") != "v" {
		t.Error("Copy shares payload or metadata")
	}
	type native struct{ offset int64 }
	transport.SetNative(m, &native{offset: 42})
	var ptr *native
	var val native
	var wrong *strings.Builder
	if !m.As(&ptr) || ptr.offset != 42 || !m.As(&val) || val.offset != 42 || m.As(&wrong) || m.As(nil) {
		t.Error("As does not reach the native message as documented")
	}
	seen := map[string]bool{}
	for range 1000 {
		id := transport.NewID()
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}
