package kafka

import (
	"context"
	"sync"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
)

// maxWindow bounds the unfinished offsets tracked per partition. It only
// matters while a message keeps failing: its partition's commit point cannot
// pass it, and after maxWindow later messages the partition stops fetching
// until it succeeds, so memory stays bounded.
const maxWindow = 4096

// claim is one partition a subscription reads: assigned by a consumer group
// generation, or one of every partition for a subscription without a group.
// Its fields are guarded by receiver.mu.
type claim struct {
	topic     string
	partition int
	next      int64 // next offset to fetch
	window    offsetWindow
	committed int64 // the offset last committed for the group

	outstanding int  // handed to the dispatcher and not settled
	revoked     bool // being given up: nothing more is handed out
	released    bool // given up: settling it changes nothing
	idle        chan struct{}
	room        chan struct{} // signalled when the window shrinks
}

func newClaim(topic string, partition int, offset int64) *claim {
	return &claim{topic: topic, partition: partition, next: offset, committed: offset, room: make(chan struct{}, 1)}
}

// commitPoint is the offset up to which every message is finished: the
// first unfinished one, or the next to fetch.
func (c *claim) commitPoint() int64 {
	if o, ok := c.window.first(); ok {
		return o
	}
	return c.next
}

// queued is a message on its way to a handler, with its partition and
// offset.
type queued struct {
	m      *transport.Message
	c      *claim
	offset int64
}

type pending struct {
	c       *claim
	offset  int64
	skipped bool // its partition was revoked before a handler saw it
}

// receiver is the transport.Receiver of one subscription. A fetcher per
// partition decodes what it reads into chunks and hands them to Receive,
// reading on while Receive hands out the last chunk: decoding overlaps
// handling, and a partition holds at most two decoded chunks, the one being
// handed out and the next. Receive hands out retries first, then fetched
// messages, and drops those whose partition was revoked meanwhile.
type receiver struct {
	cluster *cluster
	cfg     transport.SubscribeConfig
	topic   string
	chunks  chan []queued // unbuffered: a fetcher holds its next chunk until Receive takes it

	mu         sync.Mutex
	current    []queued // the rest of the chunk Receive is handing out
	inflight   map[*transport.Message]pending
	retries    []queued
	retryReady chan struct{}

	life    context.Context // ends when the receiver closes
	stop    context.CancelFunc
	workers sync.WaitGroup
	group   *kafka.ConsumerGroup
}

func newReceiver(cl *cluster, topic string, cfg transport.SubscribeConfig) *receiver {
	r := &receiver{
		cluster:    cl,
		cfg:        cfg,
		topic:      topic,
		chunks:     make(chan []queued),
		inflight:   map[*transport.Message]pending{},
		retryReady: make(chan struct{}, 1),
	}
	r.life, r.stop = context.WithCancel(context.Background())
	return r
}

// Receive hands out the next message: a failed one due for another attempt
// first, so that it is retried in place, then the next fetched one.
func (r *receiver) Receive(ctx context.Context) (*transport.Message, error) {
	for {
		r.mu.Lock()
		m := r.next()
		r.mu.Unlock()
		if m != nil {
			return m, nil
		}
		select {
		case c := <-r.chunks:
			r.mu.Lock()
			r.current = c
			r.mu.Unlock()
		case <-r.retryReady:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// next takes the next message to hand out, or nil when there is none at
// hand. Called with mu held.
func (r *receiver) next() *transport.Message {
	for len(r.retries) > 0 {
		q := r.retries[0]
		r.retries[0] = queued{}
		r.retries = r.retries[1:]
		if r.handOut(q) {
			return q.m
		}
	}
	for len(r.current) > 0 {
		q := r.current[0]
		r.current[0] = queued{} // the chunk no longer keeps it alive
		r.current = r.current[1:]
		if r.handOut(q) {
			return q.m
		}
	}
	return nil
}

// handOut records q as in flight, or drops it when its partition was
// revoked: the partition's next owner reads it again. Called with mu held.
func (r *receiver) handOut(q queued) bool {
	if q.c.revoked {
		return false
	}
	q.c.outstanding++
	r.inflight[q.m] = pending{c: q.c, offset: q.offset}
	return true
}

// guard wraps the handler so that a message of a partition revoked after it
// was handed out, still waiting in the dispatcher, never reaches the handler
// (the trap of kafka-go issue #1398: stale buffered messages handled after a
// rebalance, while the partition's new owner handles them too).
func (r *receiver) guard(h transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		r.mu.Lock()
		p, ok := r.inflight[m]
		if ok && p.c.revoked {
			p.skipped = true
			r.inflight[m] = p
		}
		r.mu.Unlock()
		if p.skipped {
			return nil
		}
		return h(ctx, m)
	}
}

// Settle marks a handled message finished, so that the commit point can pass
// it, or queues a failed one to be handed out again with Attempt raised. The
// commit point never passes a failed message.
func (r *receiver) Settle(m *transport.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.inflight[m]
	if !ok {
		return
	}
	delete(r.inflight, m)
	c := p.c
	c.outstanding--
	if c.outstanding == 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	switch {
	case p.skipped || c.released:
	case err == nil:
		// Only a full window has its fetcher waiting for room.
		full := c.window.len() >= maxWindow
		if c.window.finish(p.offset) && full {
			signal(c.room)
		}
	case !c.revoked:
		m.Attempt++
		r.retries = append(r.retries, queued{m: m, c: c, offset: p.offset})
		signal(r.retryReady)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Close stops fetching, commits what finished (groups) and leaves the group.
// Serve calls it once every received message was settled.
func (r *receiver) Close() error {
	r.stop()
	if r.group != nil {
		r.group.Close() // ends the generation: its committer commits and returns
	}
	r.workers.Wait()
	return nil
}

// startEphemeral reads every partition from its newest (or oldest) offset,
// resolved before returning so that what is published next is seen.
func (r *receiver) startEphemeral(ctx context.Context, parts []int) error {
	offsets, err := r.cluster.offsets(ctx, r.topic, parts, r.cfg.Start == transport.StartOldest)
	if err != nil {
		return err
	}
	for _, p := range parts {
		c := newClaim(r.topic, p, offsets[p])
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			r.fetch(r.life, c)
		}()
	}
	return nil
}

var _ transport.Receiver = (*receiver)(nil)
