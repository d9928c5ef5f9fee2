package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// Publisher publishes to Kafka topics. It is safe for concurrent use.
//
// Publish calls running at the same time are batched per partition without a
// timer: each partition has at most one produce request in flight, and the
// next one carries everything that arrived while it was out. A lone publish
// is sent at once; many small concurrent ones share requests.
type Publisher struct {
	cfg     *config
	cluster *cluster

	mu     sync.Mutex
	queues map[topicPartition]*partitionQueue
	closed bool
	// work counts Publish calls and the senders they started, so that Close
	// can wait for what is pending.
	work sync.WaitGroup
}

type topicPartition struct {
	topic     string
	partition int
}

// partitionQueue holds the chunks waiting for one partition; sending is true
// while a goroutine is draining it.
type partitionQueue struct {
	mu      sync.Mutex
	waiting []*chunk
	sending bool
}

// chunk is the part of one Publish call bound for one partition, at most
// batchBytes long (unless one record alone is larger).
type chunk struct {
	recs  []*outRecord
	index []int // the records' positions in the Publish call
	size  int
	err   error
	done  chan struct{}
}

// NewPublisher returns a publisher for the given brokers ("host:port").
// It connects lazily: the first Publish reaches the brokers.
func NewPublisher(brokers []string, opts ...PublisherOption) (*Publisher, error) {
	cfg, err := newConfig(publisherRole, brokers, opts)
	if err != nil {
		return nil, err
	}
	return &Publisher{cfg: cfg, cluster: newCluster(cfg), queues: map[topicPartition]*partitionQueue{}}, nil
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

	parts, err := p.cluster.partitions(ctx, topic)
	if err != nil {
		return driver.FailFrom(msgs, 0, err)
	}
	chunks := p.split(topic, parts, msgs)
	for key, cs := range chunks {
		p.enqueue(key, cs)
	}

	var failed []transport.FailedMessage
	for _, cs := range chunks {
		for _, c := range cs {
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

// split places each message on its partition and cuts each partition's share
// into chunks of at most batchBytes.
func (p *Publisher) split(topic string, parts []int, msgs []*transport.Message) map[topicPartition][]*chunk {
	now := time.Now()
	recs := newOutRecords(msgs, now)
	out := make(map[topicPartition][]*chunk, min(len(parts), len(msgs)))
	for i := range recs {
		rec := &recs[i]
		part := parts[0]
		if len(parts) > 1 {
			part = p.cfg.balancer.Balance(kafka.Message{
				Topic: topic, Key: rec.key, Value: rec.value, Headers: rec.headers, Time: now,
			}, parts...)
		}
		key := topicPartition{topic, part}
		cs := out[key]
		if len(cs) == 0 || cs[len(cs)-1].size+rec.size > p.cfg.batchBytes {
			cs = append(cs, &chunk{done: make(chan struct{})})
			out[key] = cs
		}
		c := cs[len(cs)-1]
		c.recs = append(c.recs, rec)
		c.index = append(c.index, i)
		c.size += rec.size
	}
	return out
}

// enqueue adds chunks to their partition's queue and starts a sender unless
// one is running.
func (p *Publisher) enqueue(key topicPartition, cs []*chunk) {
	p.mu.Lock()
	q := p.queues[key]
	if q == nil {
		q = &partitionQueue{}
		p.queues[key] = q
	}
	p.mu.Unlock()

	q.mu.Lock()
	q.waiting = append(q.waiting, cs...)
	start := !q.sending
	q.sending = true
	q.mu.Unlock()
	if start {
		p.work.Add(1) // the calling Publish holds work, so this cannot race Close's Wait
		go p.send(key, q)
	}
}

// send drains a partition's queue, one produce request at a time so that
// records keep their order, each carrying as many waiting chunks as fit.
func (p *Publisher) send(key topicPartition, q *partitionQueue) {
	defer p.work.Done()
	for {
		q.mu.Lock()
		n, size := 0, 0
		for n < len(q.waiting) && (n == 0 || size+q.waiting[n].size <= p.cfg.batchBytes) {
			size += q.waiting[n].size
			n++
		}
		if n == 0 {
			q.sending = false
			q.waiting = nil
			q.mu.Unlock()
			return
		}
		batch := q.waiting[:n:n]
		q.waiting = q.waiting[n:]
		q.mu.Unlock()

		err := p.produce(key, batch)
		for _, c := range batch {
			c.err = err
			close(c.done)
		}
	}
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
