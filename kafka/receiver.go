package kafka

import (
	"context"
	"errors"
	"io"
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

type queued struct {
	m *transport.Message
	c *claim
}

type pending struct {
	c       *claim
	offset  int64
	skipped bool // its partition was revoked before a handler saw it
}

// receiver is the transport.Receiver of one subscription. Partition fetchers
// feed queue; Receive hands out retries first, then queued messages, and
// drops those whose partition was revoked meanwhile.
type receiver struct {
	cluster *cluster
	cfg     transport.SubscribeConfig
	topic   string
	queue   chan queued

	mu         sync.Mutex
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
		queue:      make(chan queued, cfg.Prefetch),
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
		for len(r.retries) > 0 {
			q := r.retries[0]
			r.retries = r.retries[1:]
			if r.handOut(q) {
				r.mu.Unlock()
				return q.m, nil
			}
		}
		r.mu.Unlock()

		select {
		case q := <-r.queue:
			r.mu.Lock()
			ok := r.handOut(q)
			r.mu.Unlock()
			if ok {
				return q.m, nil
			}
		case <-r.retryReady:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// handOut records q as in flight, or drops it when its partition was
// revoked: the partition's next owner reads it again. Called with mu held.
func (r *receiver) handOut(q queued) bool {
	if q.c.revoked {
		return false
	}
	q.c.outstanding++
	r.inflight[q.m] = pending{c: q.c, offset: offsetOf(q.m)}
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
		if c.window.finish(p.offset) {
			signal(c.room)
		}
	case !c.revoked:
		m.Attempt++
		r.retries = append(r.retries, queued{m, c})
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

// fetch reads one partition from c.next until ctx ends, feeding the queue.
func (r *receiver) fetch(ctx context.Context, c *claim) {
	var b backoff
	for {
		if !r.waitRoom(ctx, c) {
			return
		}
		r.mu.Lock()
		offset := c.next
		r.mu.Unlock()
		res, err := r.cluster.client.Fetch(ctx, &kafka.FetchRequest{
			Topic:     c.topic,
			Partition: c.partition,
			Offset:    offset,
			MinBytes:  1,
			MaxBytes:  int64(r.cluster.cfg.fetchMaxBytes),
			MaxWait:   r.cluster.cfg.fetchMaxWait,
		})
		if err == nil {
			err = res.Error
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, kafka.OffsetOutOfRange) {
				r.resetOffset(ctx, c, offset)
				continue
			}
			r.cluster.log.Warn("kafka: fetch failed; retrying", "topic", c.topic, "partition", c.partition,
				"offset", offset, "err", err)
			if !b.wait(ctx) {
				return
			}
			continue
		}
		b.reset()
		if !r.enqueue(ctx, c, res) {
			return
		}
	}
}

// enqueue decodes a fetch response into the queue, skipping records before
// the requested offset (a response may start at its batch's first record).
func (r *receiver) enqueue(ctx context.Context, c *claim, res *kafka.FetchResponse) bool {
	for {
		rec, err := res.Records.ReadRecord()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.cluster.log.Warn("kafka: reading fetched records", "topic", c.topic, "partition", c.partition, "err", err)
			}
			return true
		}
		r.mu.Lock()
		stale := rec.Offset < c.next
		r.mu.Unlock()
		if stale {
			continue
		}
		m, err := decode(c.topic, c.partition, res.HighWatermark, rec)
		if err != nil {
			r.cluster.log.Warn("kafka: decoding record", "topic", c.topic, "partition", c.partition,
				"offset", rec.Offset, "err", err)
			return true
		}
		r.mu.Lock()
		if c.revoked {
			r.mu.Unlock()
			return false
		}
		c.window.add(rec.Offset)
		c.next = rec.Offset + 1
		r.mu.Unlock()
		select {
		case r.queue <- queued{m, c}:
		case <-ctx.Done():
			return false
		}
	}
}

// waitRoom blocks while the partition has maxWindow unfinished messages.
func (r *receiver) waitRoom(ctx context.Context, c *claim) bool {
	for {
		r.mu.Lock()
		full := c.window.len() >= maxWindow
		r.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-c.room:
		case <-ctx.Done():
			return false
		}
	}
}

// resetOffset moves a partition whose offset fell out of the log (retention
// deleted it, or the log was truncated) to the nearest end of the log.
func (r *receiver) resetOffset(ctx context.Context, c *claim, offset int64) {
	first, err := r.cluster.offsets(ctx, c.topic, []int{c.partition}, true)
	if err != nil {
		return
	}
	last, err := r.cluster.offsets(ctx, c.topic, []int{c.partition}, false)
	if err != nil {
		return
	}
	next := first[c.partition]
	if offset > last[c.partition] {
		next = last[c.partition]
	}
	r.cluster.log.Warn("kafka: offset out of range; resetting", "topic", c.topic, "partition", c.partition,
		"offset", offset, "reset_to", next)
	r.mu.Lock()
	c.next = next
	r.mu.Unlock()
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
