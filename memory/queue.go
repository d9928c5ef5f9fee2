package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/brokerkit/brokerkit/transport"
)

// stored is a message as a queue holds it: the published copy, shared by
// every queue it went to, and the number of times this queue delivered it.
type stored struct {
	m        *transport.Message
	attempts int
}

// queue is one group's messages, or one ephemeral subscription's: a bounded
// FIFO whose consumers compete for its messages.
type queue struct {
	mu        sync.Mutex
	ready     deque
	inflight  int // delivered and not yet settled; counts against capacity
	consumers int // live subscriptions, for GroupStats
	capacity  int
	closed    bool

	// changed is closed, and replaced, when the queue changes while a
	// consumer waits on it for a message (or for room in its prefetch).
	// A subscription has few consumers, so waking them all is cheap.
	changed chan struct{}
	waiters int

	// room holds the publishers waiting for room in a full queue, oldest
	// first, each with a channel of its own. Every freed slot wakes one
	// of them: waking them all on every ack, as a shared channel would,
	// makes a full queue with many publishers spend its time in the
	// scheduler.
	room []chan struct{}
}

func newQueue(capacity int) *queue {
	return &queue{capacity: capacity, changed: make(chan struct{})}
}

// wait releases q.mu until the queue changes or ctx ends, then locks it again.
func (q *queue) wait(ctx context.Context) error {
	ch := q.changed
	q.waiters++
	q.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	q.mu.Lock()
	return ctx.Err()
}

// wake wakes the consumers waiting on the queue.
func (q *queue) wake() {
	if q.waiters > 0 {
		close(q.changed)
		q.changed = make(chan struct{})
		q.waiters = 0
	}
}

// waitRoom releases q.mu until a slot is freed for this publisher or ctx
// ends, then locks it again.
func (q *queue) waitRoom(ctx context.Context) error {
	ch := make(chan struct{}, 1)
	q.room = append(q.room, ch)
	q.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	q.mu.Lock()
	if err != nil {
		if i := slices.Index(q.room, ch); i >= 0 {
			q.room = slices.Delete(q.room, i, i+1)
		} else {
			q.wakeRoom(1) // a slot was given to us as ctx ended: pass it on
		}
	}
	return err
}

// wakeRoom wakes up to n publishers waiting for room, oldest first.
func (q *queue) wakeRoom(n int) {
	for ; n > 0 && len(q.room) > 0; n-- {
		q.room[0] <- struct{}{}
		q.room[0] = nil
		q.room = q.room[1:]
	}
}

// push stores msgs in order, waiting for room; it returns how many it
// stored. A closed queue (its subscription ended) drops them: they were
// published, and the subscriber is gone.
func (q *queue) push(ctx context.Context, msgs []*transport.Message) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.wake()
	for i, m := range msgs {
		for !q.closed && q.ready.len()+q.inflight >= q.capacity {
			q.wake() // let consumers take what is stored before we sleep
			if err := q.waitRoom(ctx); err != nil {
				return i, err
			}
		}
		if q.closed {
			return len(msgs), nil
		}
		q.ready.pushBack(stored{m: m})
	}
	return len(msgs), nil
}

// take moves up to len(dst) ready messages into dst, waiting for one while
// the queue is empty or r has its prefetch of unsettled messages. It
// returns transport.ErrClosed once the queue is closed.
func (q *queue) take(ctx context.Context, r *receiver, dst []stored) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.ready.len() == 0 || r.unsettled >= r.prefetch {
		if q.closed {
			return 0, transport.ErrClosed
		}
		if err := q.wait(ctx); err != nil {
			return 0, err
		}
	}
	n := min(len(dst), q.ready.len(), r.prefetch-r.unsettled)
	for i := range n {
		dst[i] = q.ready.popFront()
	}
	q.inflight += n
	r.unsettled += n
	return n, nil
}

// settle ends a delivery of r: an acked message leaves the queue, a failed
// one goes back to its front to be delivered next.
func (q *queue) settle(r *receiver, s stored, ack bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight--
	r.unsettled--
	if !ack && !q.closed {
		q.ready.pushFront(s)
	} else {
		q.wakeRoom(1)
	}
	q.wake()
}

// giveBack returns messages r took but never handed out, keeping their order.
func (q *queue) giveBack(r *receiver, ss []stored) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight -= len(ss)
	r.unsettled -= len(ss)
	if !q.closed {
		for i := len(ss) - 1; i >= 0; i-- {
			q.ready.pushFront(ss[i])
		}
	}
	q.wake()
}

// close drops what the queue holds and wakes everyone waiting on it.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.ready = deque{}
	q.wake()
	q.wakeRoom(len(q.room))
}

// deque is a growable ring buffer: pushes at the back, redeliveries at the
// front.
type deque struct {
	buf  []stored
	head int
	n    int
}

func (d *deque) len() int { return d.n }

func (d *deque) grow() {
	if d.n < len(d.buf) {
		return
	}
	buf := make([]stored, max(16, 2*len(d.buf)))
	for i := range d.n {
		buf[i] = d.buf[(d.head+i)%len(d.buf)]
	}
	d.buf, d.head = buf, 0
}

func (d *deque) pushBack(s stored) {
	d.grow()
	d.buf[(d.head+d.n)%len(d.buf)] = s
	d.n++
}

func (d *deque) pushFront(s stored) {
	d.grow()
	d.head = (d.head - 1 + len(d.buf)) % len(d.buf)
	d.buf[d.head] = s
	d.n++
}

func (d *deque) popFront() stored {
	s := d.buf[d.head]
	d.buf[d.head] = stored{}
	d.head = (d.head + 1) % len(d.buf)
	d.n--
	return s
}
