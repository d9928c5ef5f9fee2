package kafka

import (
	"context"
	"maps"
	"sync"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// maxWindow bounds the unfinished offsets tracked per partition. It only
// matters while a message keeps failing: its partition's commit point cannot
// pass it, and after maxWindow later messages the partition stops fetching
// until it succeeds, so memory stays bounded.
const maxWindow = 4096

// claim is one partition a subscription reads: assigned by a consumer group
// generation, or one of every partition for a subscription without a group.
// Its fields are guarded by receiver.mu, but busy, which only its fetcher
// touches.
type claim struct {
	topic     string
	partition int
	next      int64 // next offset to fetch
	busy      bool  // the last fetch reached the head with several records: the next lingers
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

// pending is a delivery's token: its partition and offset.
type pending struct {
	c       *claim
	offset  int64
	skipped bool // its partition was revoked before a handler saw it
}

// receiver is the driver.Receiver of one subscription. A fetcher per
// partition decodes what it reads into chunks and hands them to Receive,
// reading on while Receive hands out the last chunk: decoding overlaps
// handling, and a partition holds at most two decoded chunks, the one being
// handed out and the next. Receive hands out retries first, then fetched
// messages, and drops those whose partition was revoked meanwhile.
type receiver struct {
	cluster *cluster
	cfg     driver.SubscribeConfig
	topic   string
	chunks  chan []queued // unbuffered: a fetcher holds its next chunk until Receive takes it

	mu         sync.Mutex
	current    []queued // the rest of the chunk Receive is handing out
	retries    []queued
	retryReady chan struct{}

	life    context.Context // ends when the receiver closes
	stop    context.CancelFunc
	workers sync.WaitGroup
	group   *kafka.ConsumerGroup
}

func newReceiver(cl *cluster, topic string, cfg driver.SubscribeConfig) *receiver {
	r := &receiver{
		cluster:    cl,
		cfg:        cfg,
		topic:      topic,
		chunks:     make(chan []queued),
		retryReady: make(chan struct{}, 1),
	}
	r.life, r.stop = context.WithCancel(context.Background())
	return r
}

// Receive hands out the next message: a failed one due for another attempt
// first, so that it is retried in place, then the next fetched one.
func (r *receiver) Receive(ctx context.Context) (driver.Delivery, error) {
	for {
		r.mu.Lock()
		d, ok := r.next()
		r.mu.Unlock()
		if ok {
			return d, nil
		}
		select {
		case c := <-r.chunks:
			r.mu.Lock()
			r.current = c
			r.mu.Unlock()
		case <-r.retryReady:
		case <-ctx.Done():
			return driver.Delivery{}, ctx.Err()
		}
	}
}

// next takes the next delivery to hand out; false when there is none at
// hand. Called with mu held.
func (r *receiver) next() (driver.Delivery, bool) {
	for len(r.retries) > 0 {
		q := r.retries[0]
		r.retries[0] = queued{}
		r.retries = r.retries[1:]
		if d, ok := r.handOut(q); ok {
			return d, true
		}
	}
	for len(r.current) > 0 {
		q := r.current[0]
		r.current[0] = queued{} // the chunk no longer keeps it alive
		r.current = r.current[1:]
		if d, ok := r.handOut(q); ok {
			return d, true
		}
	}
	return driver.Delivery{}, false
}

// handOut records q as in flight, or drops it when its partition was
// revoked: the partition's next owner reads it again. Called with mu held.
func (r *receiver) handOut(q queued) (driver.Delivery, bool) {
	if q.c.revoked {
		return driver.Delivery{}, false
	}
	q.c.outstanding++
	return driver.Delivery{Message: q.m, Token: &pending{c: q.c, offset: q.offset}}, true
}

// Owns reports whether d's partition is still this subscription's, just
// before its handler runs. A partition revoked after its message was handed
// out, while the message waited in the dispatcher, is its next owner's: the
// message must not be handled here too (the trap of kafka-go issue #1398).
func (r *receiver) Owns(d driver.Delivery) bool {
	p := d.Token.(*pending)
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.c.revoked {
		p.skipped = true
		return false
	}
	return true
}

// Settle marks a handled message finished, so that the commit point can pass
// it, or queues a failed one to be handed out again with Attempt raised. The
// commit point never passes a failed message.
func (r *receiver) Settle(d driver.Delivery, err error) {
	p := d.Token.(*pending)
	r.mu.Lock()
	defer r.mu.Unlock()
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
		// A redelivery is a new Message: the failed handling's may still be
		// referenced by whoever saw it.
		again := *d.Message
		again.Metadata = maps.Clone(d.Message.Metadata)
		again.Attempt++
		r.retries = append(r.retries, queued{m: &again, c: c, offset: p.offset})
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
	offsets, err := r.cluster.offsets(ctx, r.topic, parts, r.cfg.StartOldest)
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

var (
	_ driver.Receiver = (*receiver)(nil)
	_ driver.Owner    = (*receiver)(nil)
)
