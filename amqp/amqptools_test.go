package amqp_test

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// amqpTool returns the path of one of Debian's amqp-tools (librabbitmq), a
// client no one here wrote.
func amqpTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		brokertest.Unavailable(t, "%s is not installed (apt-get install amqp-tools)", name)
	}
	return path
}

// toolURL is the broker URL as librabbitmq reads it: there "amqp://host/"
// names the vhost "", so the default vhost is written without a path.
func toolURL(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path == "/" {
		u.Path = ""
	}
	return u.String()
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, amqpTool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args[2:], " "), err, stderr.String())
	}
	return string(out)
}

// TestAmqpPublishBrokerkitConsumes: a message from amqp-publish, with
// headers and no message_id, arrives with its routing key as Key, its
// headers as Metadata, and a derived ID that stays the same when it is
// delivered again.
func TestAmqpPublishBrokerkitConsumes(t *testing.T) {
	amqpTool(t, "amqp-publish")
	e := newEnv(t)
	topic, group := e.names.topic(), e.names.group()
	sub := e.subscriber(t)
	var (
		mu  sync.Mutex
		got []*transport.Message
	)
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, func(ctx context.Context, m *transport.Message) error {
		mu.Lock()
		got = append(got, m)
		first := len(got) == 1
		mu.Unlock()
		if first {
			return context.DeadlineExceeded // fail once, to see the redelivery
		}
		return c.Handle(ctx, m)
	}, transport.WithGroup(group), transport.WithBackoff(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	runTool(t, "amqp-publish", "-u", toolURL(t, e.url), "-e", topic, "-r", "order.created",
		"-H", "trace-id: abc-123", "-H", "tenant: grüße", "-b", "hello from amqp-publish")
	c.WaitAll(t, 1, wait)
	mu.Lock()
	defer mu.Unlock()
	first, second := got[0], got[1]
	if first.ID == "" || first.ID != second.ID {
		t.Errorf("derived IDs %q then %q, want the same non-empty ID", first.ID, second.ID)
	}
	if second.Attempt != 2 {
		t.Errorf("redelivery attempt %d, want 2", second.Attempt)
	}
	if second.Key != "order.created" || string(second.Payload) != "hello from amqp-publish" {
		t.Errorf("key %q payload %q", second.Key, second.Payload)
	}
	if second.Metadata.Get("trace-id") != "abc-123" || second.Metadata.Get("tenant") != "grüße" {
		t.Errorf("headers came back as %v", second.Metadata)
	}
	var d amqp091.Delivery
	if !second.As(&d) || d.Exchange != topic {
		t.Errorf("native delivery: exchange %q", d.Exchange)
	}
}

// TestBrokerkitPublishesAmqpToolsConsume: amqp-get and amqp-consume read
// what brokerkit published.
func TestBrokerkitPublishesAmqpToolsConsume(t *testing.T) {
	amqpTool(t, "amqp-get")
	amqpTool(t, "amqp-consume")
	e := newEnv(t)
	topic := e.names.topic()
	queue := e.names.queueName(topic, "amqp-tools")
	err := e.admin.do(t, func(ch *amqp091.Channel) error {
		if err := ch.ExchangeDeclare(topic, "topic", true, false, false, false, nil); err != nil {
			return err
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return err
		}
		return ch.QueueBind(queue, "#", topic, false, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := e.publisher(t)
	msgs := []*transport.Message{
		{Key: "a.b", Payload: []byte("first from brokerkit"), Metadata: transport.Metadata{"k": "v"}},
		{Payload: []byte("second from brokerkit")},
	}
	if err := pub.Publish(ctxFor(t), topic, msgs...); err != nil {
		t.Fatal(err)
	}
	if out := runTool(t, "amqp-get", "-u", toolURL(t, e.url), "-q", queue); out != "first from brokerkit" {
		t.Errorf("amqp-get printed %q", out)
	}
	if out := runTool(t, "amqp-consume", "-u", toolURL(t, e.url), "-q", queue, "-c", "1", "cat"); out != "second from brokerkit" {
		t.Errorf("amqp-consume printed %q", out)
	}
}
