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
	bin := t.TempDir() + "/quickstart"
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/quickstart").CombinedOutput(); err != nil {
		t.Fatalf("building the quickstart: %v\n%s", err, out)
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
			topic := brokertest.Name(t, "quickstart")
			if b.name == "rabbitmq" {
				t.Cleanup(func() { deleteTopology(t, url, []string{topic}, []string{"billing", "audit"}) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "-broker", url, "-topic", topic, "-n", "6").CombinedOutput()
			if err != nil {
				t.Fatalf("quickstart -broker %s: %v\n%s", b.name, err, out)
			}
			text := string(out)
			if !strings.Contains(text, "all orders handled by billing and audit") ||
				strings.Count(text, "audit      got") != 6 {
				t.Errorf("unexpected output:\n%s", text)
			}
		})
	}
}
