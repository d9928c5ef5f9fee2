package kafka

import (
	"bytes"
	"maps"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
)

// FuzzRecordMapping maps messages onto records and back: ID, key, payload
// and metadata survive, whatever bytes they hold.
func FuzzRecordMapping(f *testing.F) {
	f.Add("id-1", "key", []byte("payload"), "trace", "abc", "", "")
	f.Add("", "", []byte{}, "empty", "", "ünï", "ködé")
	f.Add("x", "\x00\xff", []byte{0, 1, 2}, "a=b,c", "d,e=f", "k", "v")
	f.Fuzz(func(t *testing.T, id, key string, payload []byte, k1, v1, k2, v2 string) {
		m := &transport.Message{ID: id, Key: key, Payload: payload, Metadata: transport.Metadata{k1: v1, k2: v2}}
		if checkMetadata([]*transport.Message{m}) != nil {
			return // the reserved header name: refused at publish
		}
		now := time.UnixMilli(1_700_000_000_000)
		out := newOutRecords([]*transport.Message{m}, now)[0]
		// The message as kafka-go's Batch.ReadMessage hands it over.
		got := decode(kafkago.Message{Topic: "topic", Partition: 3, Offset: 42, HighWaterMark: 100, Time: now,
			Key: out.key, Value: out.value, Headers: out.headers})
		wantID := id
		if id == "" {
			wantID = "topic/3/42"
		}
		if got.ID != wantID || got.Key != key || !bytes.Equal(got.Payload, payload) ||
			!maps.Equal(got.Metadata, m.Metadata) || !got.PublishedAt.Equal(now) || got.Topic != "topic" || got.Attempt != 1 {
			t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", got, m)
		}
		var km kafkago.Message
		if !got.As(&km) || km.Partition != 3 || km.Offset != 42 || km.HighWaterMark != 100 {
			t.Fatalf("native message %+v", km)
		}
		if out.size < len(payload)+len(key)+len(id) {
			t.Fatalf("size %d underestimates the record", out.size)
		}
	})
}
