package driver

import (
	"errors"
	"sync"

	"github.com/brokerkit/brokerkit/transport"
)

// Subscriptions is the set of a subscriber's running subscriptions, so that
// closing the subscriber closes them all. Backends embed or hold one.
type Subscriptions struct {
	mu     sync.Mutex
	set    map[*transport.Subscription]struct{}
	closed bool
}

// Add tracks s until it ends. It returns ErrClosed, and closes s, when the
// set was already closed.
func (ss *Subscriptions) Add(s *transport.Subscription) error {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		s.Close()
		return transport.ErrClosed
	}
	if ss.set == nil {
		ss.set = map[*transport.Subscription]struct{}{}
	}
	ss.set[s] = struct{}{}
	ss.mu.Unlock()
	go func() {
		<-s.Done()
		ss.mu.Lock()
		delete(ss.set, s)
		ss.mu.Unlock()
	}()
	return nil
}

// Closed reports whether Close was called.
func (ss *Subscriptions) Closed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closed
}

// Close closes every tracked subscription, in parallel, and waits for them.
// It is idempotent.
func (ss *Subscriptions) Close() error {
	ss.mu.Lock()
	ss.closed = true
	subs := make([]*transport.Subscription, 0, len(ss.set))
	for s := range ss.set {
		subs = append(subs, s)
	}
	ss.mu.Unlock()
	errs := make([]error, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
