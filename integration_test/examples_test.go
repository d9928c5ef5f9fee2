package integration_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
)

// TestQuickstartOnEveryBroker runs the README's example program unchanged
// on each backend, only its -broker URL differing: the promise that
// switching brokers is a URL change.
func TestQuickstartOnEveryBroker(t *testing.T) {
	runOnEveryBroker(t, "quickstart", []string{"billing", "audit"}, func(t *testing.T, out string) {
		if !strings.Contains(out, "all orders handled by billing and audit") || strings.Count(out, "audit      got") != 6 {
			t.Errorf("unexpected output:\n%s", out)
		}
	}, "-n", "6")
}

// TestOrdersOnEveryBroker runs one program, examples/orders, unchanged on
// each backend with only the URL changed: retry, dead-lettering (its topic
// created on first use, Kafka included), deduplication and the latency
// recorder, with the program checking delivery (each order handled once,
// the malformed one dead-lettered) and latency (no end-to-end figure
// longer than the run).
func TestOrdersOnEveryBroker(t *testing.T) {
	runOnEveryBroker(t, "orders", []string{"orders", "dead-letters"}, func(t *testing.T, out string) {
		if !strings.Contains(out, "handled 20 orders once each") || !strings.Contains(out, "end to end") {
			t.Errorf("unexpected output:\n%s", out)
		}
		t.Log(out)
	}, "-n", "20")
}

// runOnEveryBroker builds examples/<name> and runs it with -broker and
// -topic on memory, Kafka and RabbitMQ, removing on RabbitMQ the topic, its
// dead-letter topic and the queues of groups.
func runOnEveryBroker(t *testing.T, name string, groups []string, check func(*testing.T, string), args ...string) {
	bin := t.TempDir() + "/" + name
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/"+name).CombinedOutput(); err != nil {
		t.Fatalf("building examples/%s: %v\n%s", name, err, out)
	}
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"memory", func(*testing.T) string { return "mem://" }},
		{"kafka", func(t *testing.T) string { return brokertest.KafkaURL(t, "partitions=3") }},
		{"rabbitmq", func(t *testing.T) string { return brokertest.RabbitMQ(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			topic := brokertest.Name(t, name)
			if b.name == "rabbitmq" {
				t.Cleanup(func() { deleteTopology(t, url, []string{topic, topic + ".dlq"}, groups) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, append([]string{"-broker", url, "-topic", topic}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s -broker %s: %v\n%s", name, b.name, err, out)
			}
			check(t, string(out))
		})
	}
}
