package driver_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

func TestPrepare(t *testing.T) {
	ctx := context.Background()
	m := &transport.Message{Payload: []byte("12345")}
	if err := driver.Prepare(ctx, "t", []*transport.Message{m}, 5); err != nil || m.ID == "" {
		t.Fatalf("Prepare: %v, ID %q", err, m.ID)
	}
	if err := driver.Prepare(ctx, "t", []*transport.Message{m}, 4); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	n := &transport.Message{}
	if err := driver.Prepare(ctx, "t", []*transport.Message{n, nil}, 0); !errors.Is(err, transport.ErrInvalid) || n.ID != "" {
		t.Errorf("nil message: %v; ID assigned before validation finished: %q", err, n.ID)
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if err := driver.Prepare(nil, "t", nil, 0); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("nil context: %v, want ErrInvalid", err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := driver.Prepare(ended, "t", []*transport.Message{{}}, 0); err != context.Canceled {
		t.Errorf("ended context: %v, want context.Canceled unwrapped", err)
	}
}

func TestPrepareSubscribe(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context, *transport.Message) error { return nil }
	cfg, err := driver.PrepareSubscribe(ctx, "t", ok, []transport.SubscribeOption{transport.WithConcurrency(3)})
	if err != nil || cfg.Concurrency != 3 {
		t.Fatalf("valid call: %+v, %v", cfg, err)
	}
	for name, err := range map[string]error{
		"empty topic": second(driver.PrepareSubscribe(ctx, "", ok, nil)),
		"nil handler": second(driver.PrepareSubscribe(ctx, "t", nil, nil)),
		"bad option":  second(driver.PrepareSubscribe(ctx, "t", ok, []transport.SubscribeOption{transport.WithConcurrency(0)})),
		"nil context": second(driver.PrepareSubscribe(nil, "t", ok, nil)), //lint:ignore SA1012 the bad input under test
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestSubscribeOptions(t *testing.T) {
	cfg, err := driver.NewSubscribeConfig()
	if err != nil || cfg.Concurrency != 1 || cfg.Prefetch != 8 || cfg.DrainTimeout != 10*time.Second {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, _ = driver.NewSubscribeConfig(transport.WithConcurrency(16))
	if cfg.Prefetch != 32 {
		t.Errorf("prefetch at concurrency 16: %d, want 32", cfg.Prefetch)
	}
	bad := []transport.SubscribeOption{
		transport.WithGroup(""), transport.WithConcurrency(0), transport.WithPrefetch(-1),
		transport.WithDrainTimeout(-time.Second), transport.WithStart(7),
		transport.WithBackoff(time.Second, time.Millisecond), nil,
	}
	for i, o := range bad {
		if _, err := driver.NewSubscribeConfig(o); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("bad option #%d: %v", i, err)
		}
	}
	cfg, _ = driver.NewSubscribeConfig(transport.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	var got []time.Duration
	for a := 1; a <= 5; a++ {
		got = append(got, cfg.Backoff(a))
	}
	if fmt.Sprint(got) != "[10ms 20ms 40ms 50ms 50ms]" {
		t.Errorf("backoff %v", got)
	}
}

func TestPublishError(t *testing.T) {
	msgs := []*transport.Message{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}, {ID: "e"}}
	err := driver.FailFrom(msgs, 0, transport.ErrNotConfirmed)
	var pe *transport.PublishError
	if !errors.As(err, &pe) || len(pe.Failed) != 5 || pe.Failed[4].ID != "e" || pe.Failed[4].Index != 4 {
		t.Fatalf("FailFrom: %#v", err)
	}
	// The failed messages keep their index in the call.
	if !errors.As(driver.FailFrom(msgs, 3, transport.ErrNotConfirmed), &pe) ||
		len(pe.Failed) != 2 || pe.Failed[0].Index != 3 || pe.Failed[0].ID != "d" || pe.Failed[1].Index != 4 {
		t.Fatalf("FailFrom(msgs, 3): %#v", pe)
	}
	if !strings.Contains(err.Error(), "and 2 more") {
		t.Errorf("long list not shortened: %v", err)
	}
	if got := driver.FailFrom(msgs, 0, context.Canceled); got != context.Canceled {
		t.Errorf("context error wrapped: %v", got)
	}
}

func TestQuery(t *testing.T) {
	u, _ := url.Parse("x://h?n=3&on=true&d=1s&s=v&dup=1&dup=2")
	q := driver.NewQuery(u)
	if q.Int("n", 0) != 3 || !q.Bool("on", false) || q.Duration("d", 0) != time.Second ||
		q.String("s", "") != "v" || q.String("dup", "") != "2" || q.Int("absent", 7) != 7 {
		t.Error("getters returned wrong values")
	}
	if err := q.Err(); err != nil {
		t.Errorf("Err: %v", err)
	}
}
