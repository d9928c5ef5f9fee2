package driver_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// fakeReceiver hands out an endless stream of messages and checks that
// Serve settles each exactly once, and all before Close.
type fakeReceiver struct {
	t       *testing.T
	n       atomic.Int64
	keyed   bool
	mu      sync.Mutex
	settled map[*transport.Message]error
	open    map[*transport.Message]bool
	closed  bool
}

func newFakeReceiver(t *testing.T, keyed bool) *fakeReceiver {
	return &fakeReceiver{t: t, keyed: keyed, settled: map[*transport.Message]error{}, open: map[*transport.Message]bool{}}
}

func (r *fakeReceiver) Receive(ctx context.Context) (driver.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return driver.Delivery{}, err
	}
	i := r.n.Add(1)
	m := &transport.Message{ID: fmt.Sprint(i), Attempt: 1}
	if r.keyed {
		m.Key = fmt.Sprint(i % 5)
	}
	r.mu.Lock()
	r.open[m] = true
	r.mu.Unlock()
	return driver.Delivery{Message: m, Token: m}, nil
}

func (r *fakeReceiver) Settle(d driver.Delivery, err error) {
	m := d.Token.(*transport.Message)
	if d.Message != m {
		r.t.Errorf("message %s settled with another delivery's token", m.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.settled[m]; dup {
		r.t.Errorf("message %s settled twice", m.ID)
	}
	if r.closed {
		r.t.Errorf("message %s settled after Close", m.ID)
	}
	r.settled[m] = err
	delete(r.open, m)
}

func (r *fakeReceiver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if len(r.open) != 0 {
		r.t.Errorf("Close with %d messages unsettled", len(r.open))
	}
	return nil
}

// TestServeSettlesEverythingOnce, with 4 workers and with one (intake then
// runs the handler itself).
func TestServeSettlesEverythingOnce(t *testing.T) {
	for _, tc := range []struct {
		keyed   bool
		workers int
	}{{false, 4}, {true, 4}, {false, 1}, {true, 1}} {
		t.Run(fmt.Sprintf("keyed=%v/workers=%d", tc.keyed, tc.workers), func(t *testing.T) {
			r := newFakeReceiver(t, tc.keyed)
			var handled atomic.Int64
			cfg, _ := driver.NewSubscribeConfig(transport.WithConcurrency(tc.workers), transport.WithBackoff(0, 0))
			s := driver.Serve(context.Background(), r, func(_ context.Context, m *transport.Message) error {
				if handled.Add(1)%3 == 0 {
					return errors.New("fail")
				}
				if handled.Load()%7 == 0 {
					panic("boom")
				}
				return nil
			}, cfg)
			time.Sleep(50 * time.Millisecond)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			var acked, failed, panics, notHandled int
			for _, err := range r.settled {
				var pe *transport.PanicError
				switch {
				case err == nil:
					acked++
				case errors.As(err, &pe):
					panics++
				case errors.Is(err, transport.ErrClosed):
					notHandled++
				default:
					failed++
				}
			}
			if acked == 0 || failed == 0 || panics == 0 {
				t.Errorf("acked %d, failed %d, panics %d: want some of each", acked, failed, panics)
			}
			if int64(acked+failed+panics) != handled.Load() {
				t.Errorf("%d handler calls but %d settled as handled", handled.Load(), acked+failed+panics)
			}
			t.Logf("received %d: acked %d, failed %d, panicked %d, returned unhandled %d",
				len(r.settled), acked, failed, panics, notHandled)
		})
	}
}

func TestServeReceiveErrorEndsSubscription(t *testing.T) {
	boom := errors.New("connection gone for good")
	r := &failingReceiver{err: boom}
	cfg, _ := driver.NewSubscribeConfig()
	s := driver.Serve(context.Background(), r, func(context.Context, *transport.Message) error { return nil }, cfg)
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not end")
	}
	if !errors.Is(s.Err(), boom) || !errors.Is(s.Close(), boom) {
		t.Errorf("Err %v, want %v", s.Err(), boom)
	}
}

type failingReceiver struct{ err error }

func (f *failingReceiver) Receive(context.Context) (driver.Delivery, error) {
	return driver.Delivery{}, f.err
}
func (f *failingReceiver) Settle(driver.Delivery, error) {}
func (f *failingReceiver) Close() error                  { return nil }

// TestCloseFinishesWhatWasTaken: closing handles, within the drain timeout,
// the messages already taken from the broker and handed to workers, so that
// a backend committing a contiguous prefix of offsets (Kafka) does not
// deliver again the later ones that were handled. Only the message intake
// was routing when it stopped may be left unhandled.
func TestCloseFinishesWhatWasTaken(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) {
			r := newFakeReceiver(t, keyed)
			release := make(chan struct{})
			var started atomic.Int64
			cfg, _ := driver.NewSubscribeConfig(transport.WithConcurrency(4), transport.WithPrefetch(16))
			s := driver.Serve(context.Background(), r, func(context.Context, *transport.Message) error {
				started.Add(1)
				<-release
				return nil
			}, cfg)
			for started.Load() < 4 { // every worker busy, the buffers filling
				time.Sleep(time.Millisecond)
			}
			closed := make(chan error)
			go func() { closed <- s.Close() }()
			time.Sleep(20 * time.Millisecond) // let intake stop with buffers full
			close(release)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			var notHandled int
			for _, err := range r.settled {
				if err != nil {
					notHandled++
				}
			}
			if notHandled > 1 || len(r.settled) <= 4 {
				t.Errorf("%d received, %d left unhandled: want every buffered one handled", len(r.settled), notHandled)
			}
		})
	}
}

// TestCloseOneWorkerDrainTimeout: with one worker, intake runs the handler;
// a handler still running when the drain timeout passes gets its context
// cancelled, and Close returns once it did, with every message settled.
func TestCloseOneWorkerDrainTimeout(t *testing.T) {
	r := newFakeReceiver(t, false)
	started := make(chan struct{}, 1)
	cfg, _ := driver.NewSubscribeConfig(transport.WithDrainTimeout(10 * time.Millisecond))
	s := driver.Serve(context.Background(), r, func(ctx context.Context, _ *transport.Message) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done() // only the drain timeout ends it
		return ctx.Err()
	}, cfg)
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.settled) != 1 {
		t.Errorf("%d messages received, want 1: intake waits for the handler", len(r.settled))
	}
	for _, err := range r.settled {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("settled with %v, want the handler's context error", err)
		}
	}
}
