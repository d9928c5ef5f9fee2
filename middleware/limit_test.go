package middleware

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

func TestConcurrencyLimiterSharedAcrossSubscriptions(t *testing.T) {
	lim, err := NewConcurrencyLimiter(2)
	if err != nil {
		t.Fatal(err)
	}
	var running, peak atomic.Int32
	work := func(context.Context, *transport.Message) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		return nil
	}
	// Two "subscriptions", each with its own handler, share the limiter.
	a, b := lim.Middleware(work), lim.Middleware(work)
	var wg sync.WaitGroup
	for i := range 16 {
		h := a
		if i%2 == 1 {
			h = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h(context.Background(), &transport.Message{})
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("%d handlers ran at once, limit 2", p)
	}
	if lim.InUse() != 0 {
		t.Errorf("%d slots still taken", lim.InUse())
	}
}

func TestConcurrencyLimiterGivesUpWithContext(t *testing.T) {
	lim, err := NewConcurrencyLimiter(1)
	if err != nil {
		t.Fatal(err)
	}
	hold, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = lim.Middleware(func(context.Context, *transport.Message) error {
			close(hold)
			<-release
			return nil
		})(context.Background(), &transport.Message{})
	}()
	<-hold
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err = lim.Middleware(func(context.Context, *transport.Message) error { ran = true; return nil })(ctx, &transport.Message{})
	if err != context.Canceled || ran {
		t.Errorf("err = %v, ran = %v; want context.Canceled without running", err, ran)
	}
	close(release)
	if _, err := NewConcurrencyLimiter(0); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("limit 0: err = %v", err)
	}
}

func TestRateLimiterTokenBucket(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	lim, err := NewRateLimiter(1, 3) // one a second, bursts of 3
	if err != nil {
		t.Fatal(err)
	}
	lim.now = clock.now
	// A cancelled context makes any wait fail at once, so each call tells
	// whether a token was there without sleeping.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	take := func(n int, want bool) {
		t.Helper()
		if err := lim.Wait(ctx, n); (err == nil) != want {
			t.Fatalf("Wait(%d) at %v: err = %v, want token: %v", n, clock.t.Unix(), err, want)
		}
	}
	take(1, true)
	take(1, true)
	take(1, true)
	take(1, false) // burst used up
	clock.advance(time.Second)
	take(1, true)
	take(1, false)
	clock.advance(10 * time.Second) // refills to the burst, not beyond
	take(3, true)
	take(1, false)
	clock.advance(2 * time.Second)
	take(3, false) // only 2 there; a failed wait gives its tokens back
	take(2, true)
}

func TestRateLimiterHandlerAndPublisher(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	lim, err := NewRateLimiter(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	lim.now = clock.now
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &recordingPublisher{}
	pub := lim.Publisher(rec)
	if err := pub.Publish(ctx, "t", &transport.Message{}, &transport.Message{}); err != nil {
		t.Fatalf("publish of 2 within the burst: %v", err)
	}
	calls := 0
	h := lim.Middleware(failing(0, nil, &calls))
	if err := h(ctx, &transport.Message{}); err != context.Canceled || calls != 0 {
		t.Errorf("handler over the shared limit: err = %v, calls = %d", err, calls)
	}
	if err := pub.Publish(ctx, "t", &transport.Message{}); err != context.Canceled {
		t.Errorf("publish over the limit: err = %v", err)
	}
	if len(rec.all()) != 2 {
		t.Errorf("%d published, want 2", len(rec.all()))
	}
	for _, c := range []struct {
		r float64
		b int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := NewRateLimiter(c.r, c.b); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("NewRateLimiter(%v, %d): err = %v", c.r, c.b, err)
		}
	}
}
