package middleware

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

func TestRecoverer(t *testing.T) {
	err := Recoverer(func(context.Context, *transport.Message) error { panic("boom") })(context.Background(), &transport.Message{})
	var p *transport.PanicError
	if !errors.As(err, &p) || p.Value != "boom" {
		t.Fatalf("err = %v, want a *transport.PanicError with the value", err)
	}
	if !strings.Contains(string(p.Stack), "recover_test.go") {
		t.Errorf("stack does not show where the panic happened:\n%s", p.Stack)
	}
	if err := Recoverer(func(context.Context, *transport.Message) error { return errFlaky })(context.Background(), &transport.Message{}); err != errFlaky {
		t.Errorf("err = %v, want the handler's error unchanged", err)
	}
}

// Inside Retry, a panic is one more failure to retry, as the package doc
// says; without Recoverer it would unwind through Retry.
func TestRecovererLetsRetrySeePanics(t *testing.T) {
	retry, err := Retry(RetryBackoff(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	h := transport.Chain(func(context.Context, *transport.Message) error {
		calls++
		if calls == 1 {
			panic("first time")
		}
		return nil
	}, retry, Recoverer)
	if err := h(context.Background(), &transport.Message{}); err != nil || calls != 2 {
		t.Errorf("err = %v after %d calls, want success on the second", err, calls)
	}
}

func TestTimeout(t *testing.T) {
	mw, err := Timeout(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	err = mw(func(ctx context.Context, _ *transport.Message) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("handler context has no deadline")
		}
		<-ctx.Done()
		return ctx.Err()
	})(context.Background(), &transport.Message{})
	if err != context.DeadlineExceeded {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if !transport.Retryable(err) {
		t.Error("a timed-out handling should be retryable")
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := Timeout(d); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("Timeout(%v): err = %v, want ErrInvalid", d, err)
		}
	}
}
