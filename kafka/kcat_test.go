package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// kcat returns the path of Debian's kcat (librdkafka), a Kafka client no one
// here wrote.
func kcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		brokertest.Unavailable(t, "kcat is not installed (apt-get install kcat)")
	}
	return path
}

func runKcat(t *testing.T, ctx context.Context, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, kcat(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestKcatProducesBrokerkitConsumes: records written by librdkafka, with
// keys and headers and no brokerkit ID, arrive intact, get a stable derived
// ID, and sit on the partition brokerkit itself would choose for their key.
func TestKcatProducesBrokerkitConsumes(t *testing.T) {
	kcat(t)
	brokers := brokertest.Kafka(t)
	const partitions = 3
	topic := brokertest.KafkaTopic(t, brokers, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	var input bytes.Buffer
	for i := range 10 {
		fmt.Fprintf(&input, "key-%d|payload %d ✓\n", i, i)
	}
	runKcat(t, ctx, input.Bytes(), "-P", "-q", "-b", brokers[0], "-t", topic, "-K", "|",
		"-X", "partitioner=murmur2_random", "-H", "trace=abc-123", "-H", "empty=", "-H", "ünï=ködé")

	pub, sub := newPair(t, brokers)
	col := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctx, topic, col.Handle, transport.WithStart(transport.StartOldest))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantMeta := transport.Metadata{"trace": "abc-123", "empty": "", "ünï": "ködé"}
	byKey := map[string]int{}
	for _, m := range col.WaitAll(t, 10, wait) {
		var km kafkago.Message
		if !m.As(&km) {
			t.Fatal("no native message")
		}
		i, err := strconv.Atoi(strings.TrimPrefix(m.Key, "key-"))
		if err != nil {
			t.Fatalf("key %q", m.Key)
		}
		if want := fmt.Sprintf("payload %d ✓", i); string(m.Payload) != want {
			t.Errorf("payload %q, want %q", m.Payload, want)
		}
		if !maps.Equal(m.Metadata, wantMeta) {
			t.Errorf("metadata %q, want %q", m.Metadata, wantMeta)
		}
		if want := fmt.Sprintf("%s/%d/%d", topic, km.Partition, km.Offset); m.ID != want {
			t.Errorf("derived ID %q, want %q", m.ID, want)
		}
		if m.PublishedAt.IsZero() {
			t.Error("no publish time")
		}
		byKey[m.Key] = km.Partition
	}

	// brokerkit places the same keys on the same partitions.
	col2 := transporttest.NewCollector(nil)
	s2, err := sub.Subscribe(ctx, topic, col2.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for k := range byKey {
		if err := pub.Publish(ctx, topic, &transport.Message{Key: k, Payload: []byte("again")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range col2.WaitAll(t, len(byKey), wait) {
		var km kafkago.Message
		m.As(&km)
		if km.Partition != byKey[m.Key] {
			t.Errorf("key %q: brokerkit chose partition %d, librdkafka's murmur2 %d", m.Key, km.Partition, byKey[m.Key])
		}
	}
}

// TestBrokerkitProducesKcatConsumes: librdkafka reads what brokerkit wrote,
// keys, headers and payload byte for byte.
func TestBrokerkitProducesKcatConsumes(t *testing.T) {
	kcat(t)
	brokers := brokertest.Kafka(t)
	topic := brokertest.KafkaTopic(t, brokers, 2)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pub, err := kafka.NewPublisher(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	sent := map[string]*transport.Message{}
	var msgs []*transport.Message
	for i := range 6 {
		m := &transport.Message{
			Key:      fmt.Sprintf("kéy %d", i),
			Payload:  []byte(fmt.Sprintf("line one\nline|two \x00\xff %d", i)),
			Metadata: transport.Metadata{"trace": fmt.Sprint("t-", i), "empty": "", "ünï": "ködé"},
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, &transport.Message{Payload: []byte{}}) // no key, empty payload
	if err := pub.Publish(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		sent[m.ID] = m
	}

	out := runKcat(t, ctx, nil, "-C", "-q", "-e", "-b", brokers[0], "-t", topic, "-o", "beginning",
		"-f", "%K:%k %S:%s %h\n")
	got := 0
	for len(out) > 0 {
		var key, payload []byte
		key, out = lengthPrefixed(t, out)
		out = bytes.TrimPrefix(out, []byte(" "))
		payload, out = lengthPrefixed(t, out)
		line, rest, _ := bytes.Cut(bytes.TrimPrefix(out, []byte(" ")), []byte("\n"))
		out = rest
		headers := map[string]string{}
		for _, kv := range strings.Split(string(line), ",") {
			k, v, _ := strings.Cut(kv, "=")
			headers[k] = v
		}
		m := sent[headers[kafka.HeaderID]]
		if m == nil {
			t.Fatalf("kcat read a record with unknown ID header %q", headers[kafka.HeaderID])
		}
		delete(headers, kafka.HeaderID)
		if string(key) != m.Key || !bytes.Equal(payload, m.Payload) {
			t.Errorf("kcat read key %q payload %q, want %q %q", key, payload, m.Key, m.Payload)
		}
		if len(m.Metadata) > 0 && !maps.Equal(headers, map[string]string(m.Metadata)) {
			t.Errorf("kcat read headers %q, want %q", headers, m.Metadata)
		}
		got++
	}
	if got != len(msgs) {
		t.Fatalf("kcat read %d records, want %d", got, len(msgs))
	}
}

// lengthPrefixed reads "N:" then N bytes (N = -1: null).
func lengthPrefixed(t *testing.T, b []byte) ([]byte, []byte) {
	t.Helper()
	n, rest, ok := bytes.Cut(b, []byte(":"))
	size, err := strconv.Atoi(string(n))
	if !ok || err != nil || size > len(rest) {
		t.Fatalf("cannot parse kcat output at %q", b[:min(len(b), 40)])
	}
	if size < 0 {
		return nil, rest
	}
	return rest[:size], rest[size:]
}
