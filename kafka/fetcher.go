package kafka

import (
	"context"
	"errors"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/internal/backoff"
)

// chunkSize is how many messages a fetcher decodes before handing them to
// Receive at once: enough that the hand-off costs little per message, few
// enough that a partition holds little decoded ahead of its handlers. A
// response's last messages go out at its end, however few.
const chunkSize = 256

// fetch reads one partition from c.next until ctx ends. Like kafka-go's
// Reader, it holds a connection to the partition's leader and decodes each
// fetch response as it streams in (kafka-go's Client.Fetch decodes a whole
// response into its own form first, which cost about half again as much CPU
// per record), handing every chunkSize messages to Receive, so that
// decoding overlaps handling. Only this goroutine moves c.next (under mu,
// for the committer).
func (r *receiver) fetch(ctx context.Context, c *claim) {
	var conn *leaderConn
	defer func() { conn.close() }()
	var b backoff.Backoff
	for {
		if !r.waitRoom(ctx, c) {
			return
		}
		if conn == nil {
			var err error
			if conn, err = r.dialLeader(ctx, c); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.cluster.log.Warn("kafka: connecting to partition leader failed; retrying", "topic", c.topic,
					"partition", c.partition, "err", err)
				if !b.Wait(ctx) {
					return
				}
				continue
			}
		}
		offset := c.next
		err := r.readBatch(ctx, conn.Conn, c)
		switch {
		case ctx.Err() != nil || errors.Is(err, errRevoked):
			return
		case err == nil:
			b.Reset()
		case errors.Is(err, kafka.RequestTimedOut):
			// The broker had nothing within the wait: fetch again.
		case errors.Is(err, kafka.OffsetOutOfRange):
			if !r.resetOffset(ctx, c, offset) && !b.Wait(ctx) {
				return
			}
		default:
			// A broken connection, or one to a broker that no longer leads
			// the partition: find the leader again.
			r.cluster.log.Warn("kafka: fetch failed; retrying", "topic", c.topic, "partition", c.partition,
				"offset", offset, "err", err)
			conn.close()
			conn = nil
			if !b.Wait(ctx) {
				return
			}
		}
	}
}

// errRevoked ends a fetcher whose partition is being given up.
var errRevoked = errors.New("partition revoked")

// readBatch sends one fetch request from c.next and hands the messages of
// its response to Receive in chunks as they are read.
func (r *receiver) readBatch(ctx context.Context, conn *kafka.Conn, c *claim) error {
	cfg := r.cluster.cfg
	if _, err := conn.Seek(c.next, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		return err
	}
	// The deadline only guards against a broker that stopped answering: the
	// fetch itself waits at most fetchMaxWait on the broker.
	conn.SetReadDeadline(time.Now().Add(cfg.fetchMaxWait + requestTimeout))
	rc := kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: cfg.fetchMaxBytes, MaxWait: cfg.fetchMaxWait}
	if c.busy && cfg.fetchLinger > 0 {
		// Records come faster than fetches go round: let the broker
		// gather more of them, up to a full response or the linger,
		// instead of sending a request for every few.
		rc.MinBytes, rc.MaxWait = cfg.fetchMaxBytes, min(cfg.fetchLinger, cfg.fetchMaxWait)
	}
	batch := conn.ReadBatchWith(rc)
	got := 0
	var msgs []queued
	for {
		km, err := batch.ReadMessage()
		if err != nil {
			break // Close reports it, io.EOF (the response's end) aside
		}
		if msgs == nil {
			msgs = make([]queued, 0, chunkSize)
		}
		msgs = append(msgs, queued{m: decode(km), c: c, offset: km.Offset})
		got++
		if len(msgs) == chunkSize {
			if err := r.handOff(ctx, c, msgs); err != nil {
				batch.Close()
				return err
			}
			msgs = nil
			// Waiting for Receive to take the chunk is not the broker's
			// time: restart the deadline for the rest of the response.
			conn.SetReadDeadline(time.Now().Add(requestTimeout))
		}
	}
	if len(msgs) > 0 {
		if err := r.handOff(ctx, c, msgs); err != nil {
			batch.Close()
			return err
		}
	}
	err := batch.Close()
	// Linger only at the head of the log, where more records are yet to
	// come: several piled up while the fetch went round. One record is a
	// quiet partition, where lingering would only add latency, and a
	// fetcher behind the head has records waiting anyway.
	c.busy = got > 1 && batch.Offset() >= batch.HighWaterMark()
	// The batch's offset passes records that compaction removed from the
	// end of the response, which were never handed out.
	if next := batch.Offset(); next > c.next {
		r.mu.Lock()
		c.next = next
		r.mu.Unlock()
	}
	return err
}

// handOff records the offsets of msgs as unfinished, so that no commit
// passes them, and passes them to Receive as one chunk. It returns
// errRevoked when the partition is being given up, and ctx's error when ctx
// ends first.
func (r *receiver) handOff(ctx context.Context, c *claim, msgs []queued) error {
	r.mu.Lock()
	if c.revoked {
		r.mu.Unlock()
		return errRevoked
	}
	for _, q := range msgs {
		c.window.add(q.offset)
	}
	c.next = msgs[len(msgs)-1].offset + 1
	r.mu.Unlock()
	select {
	case r.chunks <- msgs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leaderConn is a fetcher's connection to a partition leader; it is closed
// as soon as the fetcher's context ends, which interrupts a fetch waiting
// on the broker.
type leaderConn struct {
	*kafka.Conn
	stop func() bool
}

// close closes the connection; it is a no-op on nil.
func (c *leaderConn) close() {
	if c != nil {
		c.stop()
		c.Conn.Close()
	}
}

// dialLeader connects to the leader of c's partition, through the first
// broker that answers.
func (r *receiver) dialLeader(ctx context.Context, c *claim) (*leaderConn, error) {
	var err error
	for _, addr := range r.cluster.cfg.brokers {
		var conn *kafka.Conn
		if conn, err = r.cluster.dialer.DialLeader(ctx, "tcp", addr, c.topic, c.partition); err == nil {
			return &leaderConn{Conn: conn, stop: context.AfterFunc(ctx, func() { conn.Close() })}, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
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
// deleted it, or the log was truncated) to the nearest end of the log. It
// reports false when it did not move it: the log could not be looked up, or
// the offset is in the log after all (a leader that is catching up), and
// fetching it again is worth a wait.
func (r *receiver) resetOffset(ctx context.Context, c *claim, offset int64) bool {
	first, err := r.cluster.offsets(ctx, c.topic, []int{c.partition}, true)
	if err != nil {
		return false
	}
	last, err := r.cluster.offsets(ctx, c.topic, []int{c.partition}, false)
	if err != nil {
		return false
	}
	next := min(max(offset, first[c.partition]), last[c.partition])
	if next == offset {
		return false
	}
	r.cluster.log.Warn("kafka: offset out of range; resetting", "topic", c.topic, "partition", c.partition,
		"offset", offset, "reset_to", next)
	r.mu.Lock()
	c.next = next
	r.mu.Unlock()
	return true
}
