package kafka

import (
	"io"
	"strconv"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// HeaderID is the record header that carries Message.ID. Metadata may not use
// it as a key. Records without it (written by other producers) get the ID
// "topic/partition/offset", stable across redeliveries.
const HeaderID = "brokerkit-id"

// recordOverhead approximates what a record adds to its key, value and
// headers in a batch (varint lengths, offset and time deltas, attributes).
const recordOverhead = 24

// outRecord is a message on its way to the broker.
type outRecord struct {
	key, value []byte
	headers    []kafka.Header
	time       time.Time
	size       int
}

// newOutRecords maps a Publish call's messages onto records. The records'
// key and ID bytes and their headers share three allocations per call
// rather than three per message.
func newOutRecords(msgs []*transport.Message, now time.Time) []outRecord {
	bytes, headers := 0, 0
	for _, m := range msgs {
		bytes += len(m.ID) + len(m.Key)
		headers += 1 + len(m.Metadata)
	}
	arena := make([]byte, 0, bytes)
	hs := make([]kafka.Header, 0, headers)
	// take appends s to the arena and returns the slice holding it.
	take := func(s string) []byte {
		arena = append(arena, s...)
		return arena[len(arena)-len(s) : len(arena) : len(arena)]
	}

	recs := make([]outRecord, len(msgs))
	for i, m := range msgs {
		r := &recs[i]
		r.value, r.time = m.Payload, now
		if r.value == nil {
			r.value = []byte{} // an empty payload, not a tombstone
		}
		if m.Key != "" {
			r.key = take(m.Key)
		}
		start := len(hs)
		hs = append(hs, kafka.Header{Key: HeaderID, Value: take(m.ID)})
		for k, v := range m.Metadata {
			hs = append(hs, kafka.Header{Key: k, Value: []byte(v)})
		}
		r.headers = hs[start:len(hs):len(hs)]
		r.size = recordOverhead + len(r.key) + len(r.value)
		for _, h := range r.headers {
			r.size += len(h.Key) + len(h.Value) + 4
		}
	}
	return recs
}

// checkMetadata refuses metadata keys that would collide with brokerkit's
// own headers.
func checkMetadata(msgs []*transport.Message) error {
	for i, m := range msgs {
		if _, ok := m.Metadata[HeaderID]; ok {
			return transport.Invalidf("message #%d: metadata key %q is reserved by the kafka backend", i, HeaderID)
		}
	}
	return nil
}

// recordReader hands a batch of outRecords to a produce request.
type recordReader struct {
	recs   []*outRecord
	next   int
	record kafka.Record
}

func (r *recordReader) ReadRecord() (*kafka.Record, error) {
	if r.next >= len(r.recs) {
		return nil, io.EOF
	}
	o := r.recs[r.next]
	r.next++
	r.record = kafka.Record{Time: o.time, Key: kafka.NewBytes(o.key), Value: kafka.NewBytes(o.value), Headers: o.headers}
	return &r.record, nil
}

// decode turns a fetched message into a delivered one, sharing its key and
// value bytes. The native message (kafka.Message, reachable with
// Message.As) carries the partition and offset.
func decode(km kafka.Message) *transport.Message {
	m := &transport.Message{Key: string(km.Key), Payload: km.Value, Topic: km.Topic, PublishedAt: km.Time, Attempt: 1}
	if n := len(km.Headers); n > 1 || n == 1 && km.Headers[0].Key != HeaderID {
		m.Metadata = make(transport.Metadata, n)
	}
	for _, h := range km.Headers {
		if h.Key == HeaderID {
			m.ID = string(h.Value)
			continue
		}
		m.Metadata[h.Key] = string(h.Value)
	}
	if m.ID == "" {
		m.ID = derivedID(km.Topic, km.Partition, km.Offset)
	}
	driver.SetNative(m, km)
	return m
}

// derivedID names a record by its place in the log, for records written
// without an ID header.
func derivedID(topic string, partition int, offset int64) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10)
}
