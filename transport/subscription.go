package transport

import (
	"fmt"
	"sync"

	"github.com/brokerkit/brokerkit/transport/internal/core"
)

// PanicError is the error a panicking handler turns into.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.Value) }

// Subscription is one running subscription.
type Subscription struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	err      error // why it ended; set before done is closed
}

// Close stops intake, handles what was already taken from the broker (up
// to the drain timeout, then cancels the handlers' contexts and waits for
// them to return), acks what finished and returns the rest for redelivery. It is idempotent and
// returns the error that ended the subscription, if one did.
func (s *Subscription) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return s.err
}

// Done is closed when the subscription has ended and every goroutine it
// started has returned.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns the error that ended the subscription: nil while it runs and
// after a Close; the lifetime context's error when WithLifetime's context
// ended it; the backend's error when the subscription failed.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func init() {
	core.NewSubscription = func() (any, <-chan struct{}, func(error)) {
		s := &Subscription{stop: make(chan struct{}), done: make(chan struct{})}
		return s, s.stop, func(err error) {
			s.err = err
			close(s.done)
		}
	}
	core.SetNative = func(m, native any) { m.(*Message).native = native }
}
