package brokertest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka returns the broker addresses ("host:port") for t, from the first
// of:
//
//   - KAFKA_BROKERS (comma-separated), as given;
//   - with opts: an in-process kfake cluster started for t with them (a
//     test that needs a kfake feature, such as a broker setting);
//   - a Kafka container shared by every test of the machine's run (started
//     by the first test binary that asks, found by its name by the others);
//     isolate tests with names of their own (Name, KafkaTopic);
//   - an in-process kfake cluster (github.com/twmb/franz-go/pkg/kfake),
//     started for t and closed at its cleanup.
//
// The embedded cluster has one broker unless opts say otherwise
// (kfake.NumBrokers); opts are ignored with KAFKA_BROKERS. A test that
// stops or restarts its broker must own it: see NewKafkaContainer.
//
// kfake speaks the Kafka protocol but is not Apache Kafka: it keeps every
// replica on one process, and its group coordinator and timing differ.
func Kafka(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	if env := os.Getenv(EnvKafkaBrokers); env != "" {
		var brokers []string
		for _, b := range strings.Split(env, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
		return brokers
	}
	if len(opts) == 0 && dockerAvailable() == nil {
		c, err := sharedKafka(t)
		if err != nil {
			t.Fatalf("brokertest: shared Kafka container: %v", err)
			return nil
		}
		return c.Brokers()
	}
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("brokertest: starting an embedded Kafka (kfake): %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// KafkaURL returns a kafka:// URL for Kafka(t, opts...), with query (such
// as "acks=one", without "?") appended when not empty.
func KafkaURL(t testing.TB, query string, opts ...kfake.Opt) string {
	t.Helper()
	u := "kafka://" + strings.Join(Kafka(t, opts...), ",")
	if query != "" {
		u += "?" + query
	}
	return u
}

// KafkaTopic creates a topic with a name no other test uses and the given
// number of partitions, and deletes it at t's cleanup.
func KafkaTopic(t testing.TB, brokers []string, partitions int) string {
	t.Helper()
	topic := Name(t, "bk")
	client, done := kafkaClient(brokers)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 1,
	}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		t.Fatalf("brokertest: creating topic %s on %v: %v", topic, brokers, err)
	}
	t.Cleanup(func() { DeleteKafkaTopic(t, brokers, topic) })
	return topic
}

// DeleteKafkaTopic deletes a topic, reporting (not failing on) an error
// other than the topic being gone already.
func DeleteKafkaTopic(t testing.TB, brokers []string, topic string) {
	client, done := kafkaClient(brokers)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil && !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Logf("brokertest: deleting topic %s: %v", topic, err)
	}
}

// KafkaTopicExists reports whether the brokers have topic, with
// partitions, asking over a client of its own: a long-lived kafka-go
// Transport answers metadata from its cache. An error fails t.
func KafkaTopicExists(t testing.TB, brokers []string, topic string) bool {
	t.Helper()
	client, done := kafkaClient(brokers)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("brokertest: metadata of %s: %v", topic, err)
	}
	for _, tp := range res.Topics {
		if tp.Name == topic && tp.Error == nil && len(tp.Partitions) > 0 {
			return true
		}
	}
	return false
}

func kafkaClient(brokers []string) (*kafkago.Client, func()) {
	tr := &kafkago.Transport{ClientID: "brokertest"}
	return &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr, Timeout: 30 * time.Second},
		tr.CloseIdleConnections
}
