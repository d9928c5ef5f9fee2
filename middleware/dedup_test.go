package middleware

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

func newDedup(t *testing.T, store Store, opts ...DedupOption) transport.Middleware {
	t.Helper()
	mw, err := Dedup(store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func newMemStore(t *testing.T, opts ...MemoryStoreOption) *MemoryStore {
	t.Helper()
	s, err := NewMemoryStore(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDedupHandlesEachIDOnce(t *testing.T) {
	var handled []string
	h := newDedup(t, newMemStore(t))(func(_ context.Context, m *transport.Message) error {
		handled = append(handled, m.ID)
		return nil
	})
	for _, id := range []string{"a", "b", "a", "c", "b", "a"} {
		if err := h(context.Background(), &transport.Message{ID: id}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if fmt.Sprint(handled) != "[a b c]" {
		t.Errorf("handled %v, want [a b c]", handled)
	}
}

// A failed handler must not turn its redelivery into a skipped, lost
// message: the key counts as done only once a handler succeeded.
func TestDedupFailedHandlerIsNotMarkedDone(t *testing.T) {
	calls := 0
	h := newDedup(t, newMemStore(t))(failing(2, errFlaky, &calls))
	m := &transport.Message{ID: "x"}
	for i, want := range []error{errFlaky, errFlaky, nil, nil, nil} {
		if err := h(context.Background(), m); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("delivery %d: err = %v, want %v", i+1, err, want)
		}
	}
	if calls != 3 {
		t.Errorf("handler ran %d times, want 3 (two failures, one success, then skips)", calls)
	}
}

func TestDedupConcurrentDuplicateIsBusy(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := newDedup(t, newMemStore(t))(func(context.Context, *transport.Message) error {
		calls.Add(1)
		close(entered)
		<-release
		return nil
	})
	first := make(chan error)
	go func() { first <- h(context.Background(), &transport.Message{ID: "dup"}) }()
	<-entered
	if err := h(context.Background(), &transport.Message{ID: "dup"}); !errors.Is(err, ErrBusy) {
		t.Errorf("concurrent duplicate: err = %v, want ErrBusy", err)
	}
	if !transport.Retryable(ErrBusy) {
		t.Error("ErrBusy must be retryable: the message has to come back")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := h(context.Background(), &transport.Message{ID: "dup"}); err != nil {
		t.Errorf("redelivery after the first succeeded: err = %v, want nil (skipped)", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

func TestDedupManyConcurrentDuplicates(t *testing.T) {
	var calls atomic.Int32
	h := newDedup(t, newMemStore(t))(func(context.Context, *transport.Message) error {
		calls.Add(1)
		return nil
	})
	var wg sync.WaitGroup
	var busy atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Like a backend, deliver again until acknowledged.
			for {
				err := h(context.Background(), &transport.Message{ID: "same"})
				if err == nil {
					return
				}
				if !errors.Is(err, ErrBusy) {
					t.Error(err)
					return
				}
				busy.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("8 concurrent deliveries of one message ran the handler %d times, want 1", n)
	}
}

// failingStore fails every call.
type failingStore struct{ err error }

func (s failingStore) Claim(context.Context, string, string, time.Duration) (ClaimResult, error) {
	return 0, s.err
}
func (s failingStore) MarkDone(context.Context, string, time.Duration) error { return s.err }
func (s failingStore) Release(context.Context, string, string) error         { return s.err }

func TestDedupStoreDownIsNotAcknowledged(t *testing.T) {
	down := transport.NewError(transport.CodeUnavailable, "redis", errors.New("connection refused"))
	calls := 0
	h := newDedup(t, failingStore{down})(failing(0, nil, &calls))
	if err := h(context.Background(), &transport.Message{ID: "x"}); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("err = %v, want the store's error", err)
	}
	if calls != 0 {
		t.Error("handler ran although the store could not be asked")
	}
}

func TestDedupKeyOption(t *testing.T) {
	calls := 0
	byOrder := DedupKey(func(m *transport.Message) string { return m.Metadata.Get("order") })
	h := newDedup(t, newMemStore(t), byOrder)(failing(0, nil, &calls))
	for _, m := range []*transport.Message{
		{ID: "1", Metadata: transport.Metadata{"order": "o-1"}},
		{ID: "2", Metadata: transport.Metadata{"order": "o-1"}}, // same order: duplicate
		{ID: "3"}, // no key: never deduplicated
		{ID: "3"},
	} {
		if err := h(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("handler ran %d times, want 3", calls)
	}
}

func TestDedupOptionsValidated(t *testing.T) {
	if _, err := Dedup(nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("nil store: err = %v", err)
	}
	for name, opt := range map[string]DedupOption{
		"key": DedupKey(nil), "lease": DedupLease(0), "ttl": DedupTTL(-time.Second), "nil": nil,
	} {
		if _, err := Dedup(newMemStore(t), opt); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := NewMemoryStore(MemoryStoreSize(0)); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("size 0: err = %v, want ErrInvalid", err)
	}
}

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestMemoryStoreLeaseAndTTL(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s := newMemStore(t)
	s.now = clock.now
	claim := func(token string, want ClaimResult) {
		t.Helper()
		if got, err := s.Claim(ctx, "k", token, time.Minute); err != nil || got != want {
			t.Fatalf("Claim(%s) = %v, %v; want %v", token, got, err, want)
		}
	}
	claim("a", Claimed)
	claim("b", Busy)
	claim("a", Claimed) // the holder may claim again
	clock.advance(time.Minute)
	claim("b", Claimed) // a's lease ran out (a crashed): b takes over
	if err := s.Release(ctx, "k", "a"); err != nil {
		t.Fatal(err)
	}
	claim("c", Busy) // a's late release must not drop b's claim
	if err := s.Release(ctx, "k", "b"); err != nil {
		t.Fatal(err)
	}
	claim("c", Claimed)
	if err := s.MarkDone(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	claim("d", Done)
	clock.advance(time.Hour - 1)
	claim("d", Done)
	clock.advance(1)
	claim("d", Claimed) // remembered for the TTL only
}

func TestMemoryStoreIsBounded(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t, MemoryStoreSize(100))
	for i := range 1000 {
		key := fmt.Sprint(i)
		if _, err := s.Claim(ctx, key, "t", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDone(ctx, key, time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := s.Len(); n > 100 {
			t.Fatalf("store holds %d keys, bound is 100", n)
		}
	}
	// The most recent keys are kept, the oldest evicted.
	if got, _ := s.Claim(ctx, "999", "u", time.Minute); got != Done {
		t.Errorf("recent key: %v, want done", got)
	}
	if got, _ := s.Claim(ctx, "0", "u", time.Minute); got != Claimed {
		t.Errorf("oldest key: %v, want claimed (evicted)", got)
	}
}

func TestMemoryStoreDropsExpiredKeysLazily(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s := newMemStore(t)
	s.now = clock.now
	for i := range 50 {
		key := fmt.Sprint(i)
		_, _ = s.Claim(ctx, key, "t", time.Minute)
		_ = s.MarkDone(ctx, key, time.Second)
	}
	clock.advance(time.Second)
	_, _ = s.Claim(ctx, "new", "t", time.Minute)
	if n := s.Len(); n != 1 {
		t.Errorf("store holds %d keys after the others expired, want 1", n)
	}
}
