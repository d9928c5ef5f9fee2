package integration_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
)

// TestOrdersOnEveryBroker runs one program, examples/orders, unchanged on
// each backend with only the URL changed: retry, dead-lettering (its topic
// created on first use, Kafka included), deduplication and the latency
// recorder, with the program checking delivery (each order handled once,
// the malformed one dead-lettered) and latency (no end-to-end figure
// longer than the run).
func TestOrdersOnEveryBroker(t *testing.T) {
	bin := t.TempDir() + "/orders"
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/orders").CombinedOutput(); err != nil {
		t.Fatalf("building examples/orders: %v\n%s", err, out)
	}
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"memory", func(*testing.T) string { return "mem://" }},
		{"kafka", func(t *testing.T) string { return brokertest.KafkaURL(t, "") }},
		{"rabbitmq", func(t *testing.T) string { return brokertest.RabbitMQ(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			topic := brokertest.Name(t, "orders")
			if b.name == "rabbitmq" {
				t.Cleanup(func() {
					deleteTopology(t, url, []string{topic, topic + ".dlq"}, []string{"orders", "dead-letters"})
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "-broker", url, "-topic", topic, "-n", "20").CombinedOutput()
			if err != nil {
				t.Fatalf("orders -broker %s: %v\n%s", b.name, err, out)
			}
			text := string(out)
			if !strings.Contains(text, "handled 20 orders once each") || !strings.Contains(text, "end to end") {
				t.Errorf("unexpected output:\n%s", text)
			}
			t.Logf("%s:\n%s", b.name, text)
		})
	}
}
