package transport

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Receiver is a backend's side of one live subscription. Serve pulls
// messages from it and settles each one exactly once.
type Receiver interface {
	// Receive blocks until a message is available or ctx ends. A backend
	// that reconnects does so inside Receive; an error other than ctx's
	// ends the subscription with that error.
	Receive(ctx context.Context) (*Message, error)
	// Settle is called once per received message, from any goroutine:
	// with nil to acknowledge it, with the handler's error to have it
	// delivered again.
	Settle(m *Message, err error)
	// Close releases the subscription's broker resources. Serve calls it
	// once, after every received message was settled.
	Close() error
}

// PanicError is the error a panicking handler turns into.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.Value) }

// errNotHandled settles messages that were received but never reached a
// handler because the subscription stopped.
var errNotHandled = fmt.Errorf("%w: subscription stopped before handling", ErrClosed)

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

// Serve runs h on the messages of r until the subscription is closed, its
// lifetime (cfg.Lifetime) ends, or Receive fails. ctx is Subscribe's: its
// values reach the handlers, its cancellation does not end the subscription. Handlers run with cfg.Concurrency workers;
// messages with the same key go to the same worker, so they are handled one
// at a time in the order received. Messages without a key go to whichever
// worker is free. Intake blocks while the workers are busy, so a slow handler
// slows intake instead of growing a buffer.
func Serve(ctx context.Context, r Receiver, h Handler, cfg SubscribeConfig) *Subscription {
	s := &Subscription{stop: make(chan struct{}), done: make(chan struct{})}
	d := &dispatcher{r: r, h: h, cfg: cfg, stopping: make(chan struct{}), failed: make(chan struct{})}
	d.handlerCtx, d.cancelHandlers = context.WithCancel(context.WithoutCancel(ctx))
	life := cfg.Lifetime
	if life == nil {
		life = context.Background()
	}
	d.keyed = make([]chan *Message, cfg.Concurrency)
	for i := range d.keyed {
		d.keyed[i] = make(chan *Message, 1)
	}
	d.anyWorker = make(chan *Message, cfg.Prefetch)

	intakeCtx, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	var intake sync.WaitGroup
	intake.Add(1)
	go func() {
		defer intake.Done()
		d.intake(intakeCtx)
	}()
	d.workers.Add(cfg.Concurrency)
	for i := range d.keyed {
		go d.work(d.keyed[i])
	}

	go func() {
		var ended error // why the lifetime ended it
		select {
		case <-life.Done():
			ended = life.Err()
		case <-s.stop:
		case <-d.failed:
		}
		stopIntake()
		close(d.stopping)
		intake.Wait()
		for _, ch := range d.keyed {
			close(ch)
		}
		d.drain()
		s.err = join(ended, d.receiveErr, r.Close())
		close(s.done)
	}()
	return s
}

type dispatcher struct {
	r   Receiver
	h   Handler
	cfg SubscribeConfig

	keyed     []chan *Message // one per worker, for keyed messages
	anyWorker chan *Message   // keyless messages, taken by any free worker; buffered up to the prefetch, which bounds them anyway
	workers   sync.WaitGroup

	stopping       chan struct{} // closed when intake stops
	handlerCtx     context.Context
	cancelHandlers context.CancelFunc

	failed     chan struct{} // closed when Receive fails; intake then returns
	receiveErr error
}

func (d *dispatcher) intake(ctx context.Context) {
	for {
		m, err := d.r.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.receiveErr = err
				close(d.failed)
			}
			return
		}
		if !d.route(m) {
			d.r.Settle(m, errNotHandled)
			return
		}
	}
}

// route hands m to a worker, blocking while they are busy; it returns false
// when the subscription stops first. The non-blocking try first is the
// common case and avoids a full select.
func (d *dispatcher) route(m *Message) bool {
	ch := d.anyWorker
	if m.Key != "" {
		ch = d.keyed[shard(m.Key, len(d.keyed))]
	}
	select {
	case ch <- m:
		return true
	default:
	}
	select {
	case ch <- m:
		return true
	case <-d.stopping:
		return false
	}
}

// join is errors.Join, except that a single error comes back as it is, so
// that Err can return a context error unwrapped.
func join(errs ...error) error {
	var only error
	n := 0
	for _, err := range errs {
		if err != nil {
			only = err
			n++
		}
	}
	if n <= 1 {
		return only
	}
	return errors.Join(errs...)
}

func shard(key string, n int) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

func (d *dispatcher) work(keyed chan *Message) {
	defer d.workers.Done()
	for {
		// Non-blocking tries first: when messages are flowing one is
		// usually ready, and a full select costs more.
		select {
		case m := <-d.anyWorker:
			d.handle(m)
			continue
		default:
		}
		select {
		case m, ok := <-keyed:
			if !ok {
				d.finishKeyless()
				return
			}
			d.handle(m)
		case m := <-d.anyWorker:
			d.handle(m)
		}
	}
}

// finishKeyless handles the keyless messages still buffered once intake
// stopped, so that closing finishes what was taken from the broker.
func (d *dispatcher) finishKeyless() {
	for {
		select {
		case m := <-d.anyWorker:
			d.handle(m)
		default:
			return
		}
	}
}

// handle runs the handler on m and settles it. A subscription that stops
// still handles what it had taken from the broker, within the drain
// timeout: skipping one would make Kafka, which commits only a contiguous
// prefix of offsets, deliver again every later message of its partition
// that was handled. Once the drain timeout has passed, what is left is
// settled unhandled, for redelivery.
func (d *dispatcher) handle(m *Message) {
	if d.handlerCtx.Err() != nil {
		d.r.Settle(m, errNotHandled)
		return
	}
	err := d.call(m)
	if err != nil {
		d.wait(d.cfg.Backoff(m.Attempt))
	}
	d.r.Settle(m, err)
}

// call runs the handler, turning a panic into a *PanicError.
func (d *dispatcher) call(m *Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return d.h(d.handlerCtx, m)
}

// wait sleeps for a redelivery backoff, cut short when the subscription stops.
func (d *dispatcher) wait(delay time.Duration) {
	if delay <= 0 {
		return
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.stopping:
	}
}

// drain waits for the workers to finish what they hold, cancelling the
// handlers' context once the drain timeout has passed.
func (d *dispatcher) drain() {
	finished := make(chan struct{})
	go func() {
		d.workers.Wait()
		close(finished)
	}()
	t := time.NewTimer(d.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		d.cancelHandlers()
		<-finished
	}
	d.cancelHandlers()
	// Keyless messages still buffered after the drain timeout were never
	// started.
	for {
		select {
		case m := <-d.anyWorker:
			d.r.Settle(m, errNotHandled)
		default:
			return
		}
	}
}
