package driver

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/internal/core"
)

// Receiver is a backend's side of one live subscription. Serve pulls
// deliveries from it and settles each one exactly once. See the package
// documentation for who calls what, and from which goroutine.
type Receiver interface {
	// Receive blocks until a delivery is available or ctx ends. Serve calls
	// it from one goroutine only. A backend that reconnects does so inside
	// Receive; an error other than ctx's ends the subscription with that
	// error, which Subscription.Err returns.
	Receive(ctx context.Context) (Delivery, error)
	// Settle is called once per delivery, from any goroutine: with nil to
	// acknowledge it, with an error to have it delivered again. It cannot
	// fail: an ack the broker cannot take (the channel closed) leaves the
	// message to the broker's redelivery, which the contract allows; the
	// backend logs it.
	Settle(d Delivery, err error)
	// Close releases the subscription's broker resources. Serve calls it
	// once, after every delivery was settled.
	Close() error
}

// Delivery is one message a Receiver hands to Serve.
type Delivery struct {
	// Message is what the handler gets. It is the handler's from then on:
	// a redelivery is a new Message, never the same one handed out again.
	Message *transport.Message
	// Token is the backend's own record of the delivery (a delivery tag, a
	// partition and offset), handed back to Settle as it is. It is not what
	// Message.As reaches: that is set with SetNative.
	Token any
}

// Owner is implemented by a Receiver whose deliveries can go stale while
// they wait for a handler: a Kafka partition revoked in a rebalance, whose
// next owner reads its messages again. Serve asks Owns just before running
// the handler; a delivery the backend no longer owns is settled with
// ErrNotOwned and never reaches the handler.
type Owner interface {
	Owns(d Delivery) bool
}

// ErrNotOwned settles a delivery whose Owner disowned it.
var ErrNotOwned = errors.New("brokerkit: delivery no longer owned by this subscription")

// errNotHandled settles messages that were received but never reached a
// handler because the subscription stopped.
var errNotHandled = fmt.Errorf("%w: subscription stopped before handling", transport.ErrClosed)

// Serve runs h on the messages of r until the subscription is closed, its
// lifetime (cfg.Lifetime) ends, or Receive fails. ctx is Subscribe's: its
// values reach the handlers, its cancellation does not end the subscription. Handlers run with cfg.Concurrency workers;
// messages with the same key go to the same worker, so they are handled one
// at a time in the order received. Messages without a key go to whichever
// worker is free. Intake blocks while the workers are busy, so a slow handler
// slows intake instead of growing a buffer. With one worker (the default),
// intake runs the handler itself, between two Receive calls.
func Serve(ctx context.Context, r Receiver, h transport.Handler, cfg SubscribeConfig) *transport.Subscription {
	sub, stop, finish := core.NewSubscription()
	d := &dispatcher{r: r, h: h, cfg: cfg, stopping: make(chan struct{}), failed: make(chan struct{})}
	d.owner, _ = r.(Owner)
	d.handlerCtx, d.cancelHandlers = context.WithCancel(context.WithoutCancel(ctx))
	life := cfg.Lifetime
	if life == nil {
		life = context.Background()
	}
	intakeCtx, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	var intake sync.WaitGroup
	intake.Add(1)
	// With one worker, intake runs the handler itself: a hand-off to a
	// worker goroutine per message would cost two channel operations and,
	// often, a goroutine switch, and buys nothing when only one handler
	// runs at a time. Messages are then handled in the order received.
	inline := cfg.Concurrency == 1
	if inline {
		d.workers.Add(1)
		go func() {
			defer intake.Done()
			defer d.workers.Done()
			d.serveInline(intakeCtx)
		}()
	} else {
		d.keyed = make([]chan Delivery, cfg.Concurrency)
		for i := range d.keyed {
			d.keyed[i] = make(chan Delivery, 1)
		}
		d.anyWorker = make(chan Delivery, cfg.Prefetch)
		go func() {
			defer intake.Done()
			d.intake(intakeCtx)
		}()
		d.workers.Add(cfg.Concurrency)
		for i := range d.keyed {
			go d.work(d.keyed[i])
		}
	}

	go func() {
		var ended error // why the lifetime ended it
		select {
		case <-life.Done():
			ended = life.Err()
		case <-stop:
		case <-d.failed:
		}
		stopIntake()
		close(d.stopping)
		if inline {
			d.drain() // intake is the worker: the drain timeout bounds it
			intake.Wait()
		} else {
			intake.Wait()
			for _, ch := range d.keyed {
				close(ch)
			}
			d.drain()
		}
		finish(join(ended, d.receiveErr, r.Close()))
	}()
	return sub.(*transport.Subscription)
}

type dispatcher struct {
	r     Receiver
	owner Owner // r, when it can disown deliveries
	h     transport.Handler
	cfg   SubscribeConfig

	keyed     []chan Delivery // one per worker, for keyed messages
	anyWorker chan Delivery   // keyless messages, taken by any free worker; buffered up to the prefetch, which bounds them anyway
	workers   sync.WaitGroup

	stopping       chan struct{} // closed when intake stops
	handlerCtx     context.Context
	cancelHandlers context.CancelFunc

	failed     chan struct{} // closed when Receive fails; intake then returns
	receiveErr error
}

func (d *dispatcher) intake(ctx context.Context) {
	for {
		m, ok := d.receive(ctx)
		if !ok {
			return
		}
		if !d.route(m) {
			d.r.Settle(m, errNotHandled)
			return
		}
	}
}

// serveInline is intake and the one worker in one goroutine: it receives
// a message, handles and settles it, and receives the next. A message
// received as the subscription stops is still handled (or settled
// unhandled once the drain timeout passed), as a worker would.
func (d *dispatcher) serveInline(ctx context.Context) {
	for {
		m, ok := d.receive(ctx)
		if !ok {
			return
		}
		d.handle(m)
		if ctx.Err() != nil {
			return
		}
	}
}

// receive takes the next delivery. It reports false when ctx ended, or
// when Receive failed: then it records the error for Err and signals the
// failure.
func (d *dispatcher) receive(ctx context.Context) (Delivery, bool) {
	m, err := d.r.Receive(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.receiveErr = err
			close(d.failed)
		}
		return Delivery{}, false
	}
	return m, true
}

// route hands m to a worker, blocking while they are busy; it returns false
// when the subscription stops first. The non-blocking try first is the
// common case and avoids a full select.
func (d *dispatcher) route(m Delivery) bool {
	ch := d.anyWorker
	if key := m.Message.Key; key != "" {
		ch = d.keyed[shard(key, len(d.keyed))]
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

func (d *dispatcher) work(keyed chan Delivery) {
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
func (d *dispatcher) handle(m Delivery) {
	if d.handlerCtx.Err() != nil {
		d.r.Settle(m, errNotHandled)
		return
	}
	if d.owner != nil && !d.owner.Owns(m) {
		d.r.Settle(m, ErrNotOwned)
		return
	}
	err := d.call(m.Message)
	if err != nil {
		d.wait(d.cfg.Backoff(m.Message.Attempt))
	}
	d.r.Settle(m, err)
}

// call runs the handler, turning a panic into a *PanicError.
func (d *dispatcher) call(m *transport.Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &transport.PanicError{Value: v, Stack: debug.Stack()}
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
