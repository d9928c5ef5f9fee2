package middleware

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

var errFlaky = errors.New("flaky")

// failing returns a handler that fails its first n calls with err, and
// counts calls in *calls.
func failing(n int, err error, calls *int) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		*calls++
		if *calls <= n {
			return err
		}
		return nil
	}
}

func TestRetry(t *testing.T) {
	fast := []RetryOption{RetryBackoff(0, 0)}
	tests := []struct {
		name      string
		opts      []RetryOption
		failures  int
		err       error
		wantCalls int
		wantErr   error
	}{
		{"success first time", nil, 0, errFlaky, 1, nil},
		{"recovers on second attempt", nil, 1, errFlaky, 2, nil},
		{"recovers on last attempt", nil, 2, errFlaky, 3, nil},
		{"gives up after max attempts", nil, 5, errFlaky, 3, errFlaky},
		{"more attempts", []RetryOption{RetryMaxAttempts(5)}, 4, errFlaky, 5, nil},
		{"one attempt means no retry", []RetryOption{RetryMaxAttempts(1)}, 1, errFlaky, 1, errFlaky},
		{"permanent errors are not retried", nil, 5, transport.Permanent(errFlaky), 1, errFlaky},
		{"bad input is not retried", nil, 5, transport.ErrInvalid, 1, transport.ErrInvalid},
		{"custom predicate", []RetryOption{RetryIf(func(error) bool { return false })}, 5, errFlaky, 1, errFlaky},
		{"max elapsed leaves no room for a wait",
			[]RetryOption{RetryBackoff(2*time.Millisecond, 2*time.Millisecond), RetryMaxElapsed(time.Millisecond)},
			5, errFlaky, 1, errFlaky},
		{"max elapsed far away", []RetryOption{RetryMaxElapsed(time.Hour)}, 2, errFlaky, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := Retry(append(append([]RetryOption{}, fast...), tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			err = mw(failing(tt.failures, tt.err, &calls))(context.Background(), &transport.Message{ID: "1"})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("handler ran %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestRetryBackoffGrowsAndIsCapped(t *testing.T) {
	var waits []time.Duration
	var attempts []int
	mw, err := Retry(RetryMaxAttempts(5), RetryBackoff(time.Millisecond, 3*time.Millisecond), RetryJitter(0),
		OnRetry(func(_ context.Context, m *transport.Message, attempt int, err error, wait time.Duration) {
			if m.ID != "m" || !errors.Is(err, errFlaky) {
				t.Errorf("hook got message %q, error %v", m.ID, err)
			}
			attempts = append(attempts, attempt)
			waits = append(waits, wait)
		}))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := mw(failing(10, errFlaky, &calls))(context.Background(), &transport.Message{ID: "m"}); !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v", err)
	}
	wantWaits := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond}
	if fmt.Sprint(waits) != fmt.Sprint(wantWaits) || fmt.Sprint(attempts) != "[1 2 3 4]" {
		t.Errorf("waits %v after attempts %v, want %v after [1 2 3 4]", waits, attempts, wantWaits)
	}
}

func TestRetryJitterStaysInBounds(t *testing.T) {
	base := 2 * time.Millisecond
	var waits []time.Duration
	mw, err := Retry(RetryMaxAttempts(20), RetryBackoff(base, time.Second), RetryMultiplier(1), RetryJitter(0.5),
		OnRetry(func(_ context.Context, _ *transport.Message, _ int, _ error, wait time.Duration) {
			waits = append(waits, wait)
		}))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	_ = mw(failing(100, errFlaky, &calls))(context.Background(), &transport.Message{})
	distinct := map[time.Duration]bool{}
	for _, w := range waits {
		if w < base/2 || w > base*3/2 {
			t.Errorf("wait %v outside [%v, %v]", w, base/2, base*3/2)
		}
		distinct[w] = true
	}
	if len(waits) != 19 || len(distinct) < 2 {
		t.Errorf("%d waits, %d distinct: want 19 jittered waits", len(waits), len(distinct))
	}
}

func TestRetryFreshContextPerAttempt(t *testing.T) {
	mw, err := Retry(RetryBackoff(0, 0), RetryAttemptTimeout(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var ctxs []context.Context
	h := func(ctx context.Context, m *transport.Message) error {
		ctxs = append(ctxs, ctx)
		if len(ctxs) == 1 {
			<-ctx.Done() // the first attempt times out
			return ctx.Err()
		}
		return ctx.Err() // the second must not inherit the expired deadline
	}
	if err := mw(h)(context.Background(), &transport.Message{}); err != nil {
		t.Fatalf("second attempt saw %v; each attempt needs its own context", err)
	}
	if len(ctxs) != 2 || ctxs[0] == ctxs[1] {
		t.Fatalf("%d attempts, want 2 with distinct contexts", len(ctxs))
	}
	if ctxs[1].Err() == nil {
		t.Error("an attempt's context is not cancelled once the attempt returned")
	}
}

func TestRetryStopsWhenHandlerContextEnds(t *testing.T) {
	mw, err := Retry(RetryMaxAttempts(10), RetryBackoff(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	h := func(context.Context, *transport.Message) error {
		calls++
		cancel() // the subscription closes during the first attempt
		return errFlaky
	}
	if err := mw(h)(ctx, &transport.Message{}); !errors.Is(err, errFlaky) {
		t.Errorf("err = %v, want the handler's error", err)
	}
	if calls != 1 {
		t.Errorf("handler ran %d times after its context ended, want 1", calls)
	}
}

func TestRetryWaitCutShortByContext(t *testing.T) {
	mw, err := Retry(RetryMaxAttempts(3), RetryBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	h := func(context.Context, *transport.Message) error {
		calls++
		time.AfterFunc(time.Millisecond, cancel)
		return errFlaky
	}
	if err := mw(h)(ctx, &transport.Message{}); !errors.Is(err, errFlaky) || calls != 1 {
		t.Errorf("err = %v after %d calls; want the handler's error after 1", err, calls)
	}
}

func TestRetryGivesUpBeforeDeadline(t *testing.T) {
	mw, err := Retry(RetryMaxAttempts(3), RetryBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls := 0
	// A wait of an hour cannot end before the context's deadline, so Retry
	// gives up at once instead of sleeping into it.
	if err := mw(failing(5, errFlaky, &calls))(ctx, &transport.Message{}); !errors.Is(err, errFlaky) || calls != 1 {
		t.Errorf("err = %v after %d calls; want the handler's error after 1", err, calls)
	}
}

func TestRetryOptionsValidated(t *testing.T) {
	for name, opt := range map[string]RetryOption{
		"attempts":   RetryMaxAttempts(0),
		"backoff":    RetryBackoff(time.Second, time.Millisecond),
		"negative":   RetryBackoff(-1, time.Second),
		"multiplier": RetryMultiplier(0.5),
		"jitter":     RetryJitter(1.5),
		"elapsed":    RetryMaxElapsed(-1),
		"timeout":    RetryAttemptTimeout(-1),
		"predicate":  RetryIf(nil),
		"hook":       OnRetry(nil),
		"nil":        nil,
	} {
		if _, err := Retry(opt); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
