package kafka

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Publisher publishes to Kafka topics. It is safe for concurrent use.
//
// Publish calls running at the same time are batched without a timer: each
// broker has at most one produce request in flight, carrying every partition
// it leads that has records waiting, and the next one carries everything
// that arrived while it was out. A lone publish is sent at once; many small
// concurrent ones share requests. A partition stays with the broker queue
// it was first placed on, so its records keep their order even when its
// leader moves (requests for a moved partition then fall back to one
// request per partition, which kafka-go routes to the new leader).
type Publisher struct {
	cfg     *config
	cluster *cluster

	mu      sync.Mutex
	queues  map[topicPartition]*brokerQueue
	brokers map[int32]*brokerQueue
	closed  bool
	// topics caches, per topic name, a *topicInfo: a Publish reads the
	// partitions from it instead of asking a broker each time.
	topics sync.Map
	// work counts Publish calls and the senders they started, so that Close
	// can wait for what is pending.
	work sync.WaitGroup
}

type topicPartition struct {
	topic     string
	partition int
}

// brokerQueue holds the chunks waiting for the partitions one broker leads,
// per partition in arrival order; sending is true while a goroutine is
// draining it.
type brokerQueue struct {
	mu      sync.Mutex
	order   []topicPartition // partitions with chunks waiting, oldest first
	waiting map[topicPartition][]*chunk
	sending bool
}

// partitionBatch is what one produce request carries for one partition.
type partitionBatch struct {
	key    topicPartition
	chunks []*chunk
}

// chunk is the part of one Publish call bound for one partition, at most
// batchBytes long (unless one record alone is larger).
type chunk struct {
	recs  []*outRecord
	index []int // the records' positions in the Publish call
	size  int
	err   error
	done  chan struct{}

	// oneRec and oneIdx back recs and index for a chunk of one record.
	oneRec [1]*outRecord
	oneIdx [1]int
}

// NewPublisher returns a publisher for the given brokers ("host:port").
// It connects lazily: the first Publish reaches the brokers.
func NewPublisher(brokers []string, opts ...PublisherOption) (*Publisher, error) {
	cfg, err := newConfig(publisherRole, brokers, opts)
	if err != nil {
		return nil, err
	}
	return &Publisher{cfg: cfg, cluster: newCluster(cfg),
		queues: map[topicPartition]*brokerQueue{}, brokers: map[int32]*brokerQueue{}}, nil
}

// Publish sends msgs to topic and returns nil once the brokers acknowledged
// every one of them (see WithRequiredAcks). Otherwise it returns a context
// error, an ErrInvalid error (nothing was sent), or a *transport.PublishError
// naming the messages that were not acknowledged.
func (p *Publisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := driver.Prepare(ctx, topic, msgs, p.cfg.maxMessageBytes); err != nil {
		if errors.Is(err, transport.ErrTooLarge) {
			return fmt.Errorf("%w (the kafka backend's limit is max_message_bytes in the URL, WithMaxMessageBytes in Go; the broker's message.max.bytes must allow it too)", err)
		}
		return err
	}
	if err := checkMetadata(msgs); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	if !p.begin() {
		return transport.ErrClosed
	}
	defer p.work.Done()

	t, err := p.topic(ctx, topic)
	if err != nil {
		return driver.FailFrom(msgs, 0, err)
	}
	chunks := p.split(t, msgs)
	for i := range chunks {
		p.enqueue(t, &chunks[i])
	}

	var failed []transport.FailedMessage
	for _, pc := range chunks {
		for _, c := range pc.chunks {
			select {
			case <-c.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if c.err != nil {
				for _, i := range c.index {
					failed = append(failed, transport.FailedMessage{Index: i, ID: msgs[i].ID, Err: c.err})
				}
			}
		}
	}
	if failed != nil {
		return &transport.PublishError{Failed: failed}
	}
	return nil
}

func (p *Publisher) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.work.Add(1)
	return true
}

// topicTTL is how long a topic's partition list is used before it is read
// again, to learn of added partitions. A produce error forgets it at once.
const topicTTL = 10 * time.Second

// topicInfo is a topic's partitions as last read from metadata, and the
// broker queue of each, filled in on first use.
type topicInfo struct {
	topic      string
	parts      []int // sorted
	dense      bool  // parts is 0..n-1
	queues     []atomic.Pointer[brokerQueue]
	expires    time.Time
	refreshing atomic.Bool
}

// position returns the index of partition part in t.parts.
func (t *topicInfo) position(part int) int {
	if t.dense {
		return part
	}
	i, _ := slices.BinarySearch(t.parts, part)
	return i
}

// topic returns topic's partitions from the cache, reading them from the
// brokers (and creating the topic, if so configured) when they are not
// cached yet. When the entry is older than topicTTL, one caller refreshes
// it while the others go on with the old one.
func (p *Publisher) topic(ctx context.Context, topic string) (*topicInfo, error) {
	if v, ok := p.topics.Load(topic); ok {
		t := v.(*topicInfo)
		if time.Now().Before(t.expires) || !t.refreshing.CompareAndSwap(false, true) {
			return t, nil
		}
		fresh, err := p.lookupTopic(ctx, topic)
		if err != nil {
			t.refreshing.Store(false)
			return nil, err
		}
		return fresh, nil
	}
	return p.lookupTopic(ctx, topic)
}

func (p *Publisher) lookupTopic(ctx context.Context, topic string) (*topicInfo, error) {
	parts, err := p.cluster.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	t := &topicInfo{topic: topic, parts: parts, dense: parts[len(parts)-1] == len(parts)-1,
		queues: make([]atomic.Pointer[brokerQueue], len(parts)), expires: time.Now().Add(topicTTL)}
	p.topics.Store(topic, t)
	return t, nil
}

// forget drops topic's cached partitions after a failure (the topic may have
// been deleted or changed), so that the next Publish reads them again.
func (p *Publisher) forget(topic string) {
	p.topics.Delete(topic)
}

// partChunks is the share of one Publish call bound for one partition.
type partChunks struct {
	pos    int // the partition's position in topicInfo.parts
	chunks []*chunk
}

// split places each message on its partition and cuts each partition's share
// into chunks of at most batchBytes. A call of one message, the common case
// of many goroutines publishing, costs one chunk and no map.
func (p *Publisher) split(t *topicInfo, msgs []*transport.Message) []partChunks {
	now := time.Now()
	recs := newOutRecords(msgs, now)
	parts := t.parts
	if len(msgs) == 1 {
		c := &chunk{done: make(chan struct{}), size: recs[0].size}
		c.recs, c.index = c.oneRec[:1], c.oneIdx[:1]
		c.recs[0] = &recs[0]
		return []partChunks{{pos: t.position(p.balance(t.topic, parts, &recs[0], now)), chunks: []*chunk{c}}}
	}
	// slot maps a partition's position to its entry in out, plus one.
	slot := make([]int, len(parts))
	out := make([]partChunks, 0, min(len(parts), len(msgs)))
	for i := range recs {
		rec := &recs[i]
		pos := t.position(p.balance(t.topic, parts, rec, now))
		if slot[pos] == 0 {
			out = append(out, partChunks{pos: pos})
			slot[pos] = len(out)
		}
		pc := &out[slot[pos]-1]
		if len(pc.chunks) == 0 || pc.chunks[len(pc.chunks)-1].size+rec.size > p.cfg.batchBytes {
			pc.chunks = append(pc.chunks, &chunk{done: make(chan struct{})})
		}
		c := pc.chunks[len(pc.chunks)-1]
		c.recs = append(c.recs, rec)
		c.index = append(c.index, i)
		c.size += rec.size
	}
	return out
}

// balance returns the partition the configured balancer picks for rec.
func (p *Publisher) balance(topic string, parts []int, rec *outRecord, now time.Time) int {
	if len(parts) == 1 {
		return parts[0]
	}
	return p.cfg.balancer.Balance(kafka.Message{
		Topic: topic, Key: rec.key, Value: rec.value, Headers: rec.headers, Time: now,
	}, parts...)
}

// enqueue adds a partition's chunks to its broker queue and starts a sender
// unless one is running.
func (p *Publisher) enqueue(t *topicInfo, pc *partChunks) {
	key := topicPartition{t.topic, t.parts[pc.pos]}
	q := t.queues[pc.pos].Load()
	if q == nil {
		q = p.brokerQueue(key)
		t.queues[pc.pos].Store(q)
	}
	cs := pc.chunks

	q.mu.Lock()
	if len(q.waiting[key]) == 0 {
		q.order = append(q.order, key)
	}
	q.waiting[key] = append(q.waiting[key], cs...)
	start := !q.sending
	q.sending = true
	q.mu.Unlock()
	if start {
		p.work.Add(1) // the calling Publish holds work, so this cannot race Close's Wait
		go p.send(q)
	}
}

// brokerQueue returns the queue of key's broker, placing key on the queue
// of its current leader the first time; it stays there (see Publisher).
func (p *Publisher) brokerQueue(key topicPartition) *brokerQueue {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queues[key]
	if q == nil {
		id := p.cluster.leader(key.topic, key.partition)
		q = p.brokers[id]
		if q == nil {
			q = &brokerQueue{waiting: map[topicPartition][]*chunk{}}
			p.brokers[id] = q
		}
		p.queues[key] = q
	}
	return q
}

// maxRequestBytes bounds the records of one produce request across its
// partitions (each partition's share is bounded by batchBytes).
const maxRequestBytes = 16 << 20

// send drains a broker queue, one produce request at a time so that records
// keep their order, each carrying, for every partition with chunks waiting,
// as many of them as fit in batchBytes.
func (p *Publisher) send(q *brokerQueue) {
	defer p.work.Done()
	for {
		q.mu.Lock()
		var batches []partitionBatch
		// Partitions that got nothing this round (the request was full) go
		// first next round, so that none waits behind the others forever.
		var starved, partial []topicPartition
		total := 0
		for _, key := range q.order {
			waiting := q.waiting[key]
			n, size := 0, 0
			for n < len(waiting) && (n == 0 || size+waiting[n].size <= p.cfg.batchBytes) &&
				(len(batches) == 0 || total+size+waiting[n].size <= maxRequestBytes) {
				size += waiting[n].size
				n++
			}
			if n > 0 {
				batches = append(batches, partitionBatch{key: key, chunks: waiting[:n:n]})
				total += size
			}
			switch {
			case n == 0:
				starved = append(starved, key)
			case n < len(waiting):
				q.waiting[key] = waiting[n:]
				partial = append(partial, key)
			default:
				delete(q.waiting, key)
			}
		}
		q.order = append(starved, partial...)
		if len(batches) == 0 {
			q.sending = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()

		p.produceAll(batches)
		// Let the callers this request released run before cutting the
		// next one: those that publish again at once then join it rather
		// than the one after (64 goroutines publishing one message per
		// call: 29 records per request without the yield, 42 with it).
		runtime.Gosched()
	}
}

// produceAll sends batches in one produce request and settles their chunks.
// Partitions the request could not place (a request-level error, such as a
// leader that moved) or that failed with a retryable error are retried one
// request per partition, with backoff, by produce.
func (p *Publisher) produceAll(batches []partitionBatch) {
	errs := make([]error, len(batches))
	retry := make([]bool, len(batches))
	if len(batches) == 1 {
		errs[0] = p.produce(batches[0].key, batches[0].chunks)
	} else if res, err := p.roundTrip(batches); err != nil {
		for i := range retry {
			retry[i] = true
		}
	} else {
		for i, b := range batches {
			errs[i] = partitionError(res, b.key)
			retry[i] = errs[i] != nil && classify.Retryable(errs[i])
			if errs[i] != nil && !retry[i] {
				errs[i] = publishError(errs[i])
			}
		}
	}
	var wg sync.WaitGroup
	for i, b := range batches {
		if retry[i] {
			wg.Go(func() { errs[i] = p.produce(b.key, b.chunks) })
		}
	}
	wg.Wait()
	for i, b := range batches {
		if errs[i] != nil || retry[i] {
			p.forget(b.key.topic)
		}
		for _, c := range b.chunks {
			c.err = errs[i]
			close(c.done)
		}
	}
}

// roundTrip sends one produce request carrying every batch; with acks=0 it
// returns a nil response.
func (p *Publisher) roundTrip(batches []partitionBatch) (*produceAPI.Response, error) {
	req := &produceAPI.Request{Acks: int16(p.cfg.acks), Timeout: int32(requestTimeout / 2 / time.Millisecond)}
	attributes := protocol.Attributes(p.cfg.compression) & 0x7
	for _, b := range batches {
		var recs []*outRecord
		for _, c := range b.chunks {
			recs = append(recs, c.recs...)
		}
		part := produceAPI.RequestPartition{Partition: int32(b.key.partition),
			RecordSet: protocol.RecordSet{Attributes: attributes, Records: &recordReader{recs: recs}}}
		if n := len(req.Topics); n > 0 && req.Topics[n-1].Topic == b.key.topic {
			req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, part)
		} else {
			req.Topics = append(req.Topics, produceAPI.RequestTopic{Topic: b.key.topic,
				Partitions: []produceAPI.RequestPartition{part}})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	res, err := p.cluster.transport.RoundTrip(ctx, p.cluster.addr, req)
	if err != nil {
		return nil, err
	}
	r, _ := res.(*produceAPI.Response)
	return r, nil
}

// partitionError is the broker's answer for key in res: nil when it took
// the records (or no answer was asked for, acks=0).
func partitionError(res *produceAPI.Response, key topicPartition) error {
	if res == nil {
		return nil
	}
	for _, t := range res.Topics {
		if t.Topic != key.topic {
			continue
		}
		for _, part := range t.Partitions {
			if int(part.Partition) != key.partition {
				continue
			}
			if part.ErrorCode == 0 {
				return nil
			}
			err := error(kafka.Error(part.ErrorCode))
			if len(part.RecordErrors) > 0 {
				err = fmt.Errorf("%w (record errors: %v)", err, part.RecordErrors)
			}
			return err
		}
	}
	return fmt.Errorf("kafka: the produce response has no answer for %s/%d: %w",
		key.topic, key.partition, kafka.UnknownTopicOrPartition)
}

// publishError classifies a partition's failure as produce reports it.
func publishError(err error) error {
	if tooLarge(err) {
		return transport.NewError(transport.CodeInvalid, "publish",
			fmt.Errorf("%w: the broker refused the batch: %w", transport.ErrTooLarge, err))
	}
	return classify.Wrap("publish", err)
}

func (p *Publisher) produce(key topicPartition, batch []*chunk) error {
	var recs []*outRecord
	for _, c := range batch {
		recs = append(recs, c.recs...)
	}
	// The batch is shared by callers with different contexts; it is bounded
	// by the request timeout and the attempt count instead.
	return p.cluster.retry(context.Background(), "publish", func(ctx context.Context) error {
		res, err := p.cluster.client.Produce(ctx, &kafka.ProduceRequest{
			Topic:        key.topic,
			Partition:    key.partition,
			RequiredAcks: p.cfg.acks,
			Compression:  p.cfg.compression,
			Records:      &recordReader{recs: recs},
		})
		if err == nil && res != nil && res.Error != nil {
			err = res.Error
			if len(res.RecordErrors) > 0 {
				err = fmt.Errorf("%w (record errors: %v)", err, res.RecordErrors)
			}
		}
		if tooLarge(err) {
			return transport.NewError(transport.CodeInvalid, "publish",
				fmt.Errorf("%w: the broker refused the batch: %w", transport.ErrTooLarge, err))
		}
		return err
	})
}

// Close waits for the messages being published to be acknowledged (or to
// fail), then releases the connections. It is idempotent; Publish after
// Close returns ErrClosed.
func (p *Publisher) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	p.work.Wait()
	if !already {
		p.cluster.close()
	}
	return nil
}

var _ transport.Publisher = (*Publisher)(nil)
