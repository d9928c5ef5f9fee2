package brokertest

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	kafkago "github.com/segmentio/kafka-go"
)

func TestContainerConfig(t *testing.T) {
	for _, tc := range []struct {
		provider, network string
		opts              []ContainerOption
		want              Network
		image, err        string
	}{
		{want: NetworkBridge, image: DefaultRabbitMQImage},
		{provider: "hostnet", want: NetworkHost, image: DefaultRabbitMQHostImage},
		{provider: "hostnet", network: "bridge", want: NetworkBridge, image: DefaultRabbitMQImage},
		{network: "host", want: NetworkHost, image: DefaultRabbitMQHostImage},
		{opts: []ContainerOption{WithNetwork(NetworkHost), WithImage("my/rabbit:1")}, want: NetworkHost, image: "my/rabbit:1"},
		{network: "overlay", err: "BROKERTEST_NETWORK"},
		{opts: []ContainerOption{WithNetwork("nat")}, err: "unknown mode"},
		{opts: []ContainerOption{WithImage(" ")}, err: "empty image"},
		{opts: []ContainerOption{nil}, err: "nil ContainerOption"},
	} {
		t.Setenv("TESTCONTAINERS_PROVIDER", tc.provider)
		t.Setenv(EnvNetwork, tc.network)
		t.Setenv(EnvRabbitMQImage, "")
		cfg, err := newConfig(defaultRabbitMQImage, EnvRabbitMQImage, tc.opts)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want one with %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.network != tc.want || cfg.image != tc.image {
			t.Errorf("%+v: got %+v, %v", tc, cfg, err)
		}
	}
	t.Setenv(EnvRabbitMQImage, "env/rabbit:2")
	if cfg, _ := newConfig(defaultRabbitMQImage, EnvRabbitMQImage, nil); cfg.image != "env/rabbit:2" {
		t.Errorf("%s ignored: %q", EnvRabbitMQImage, cfg.image)
	}
}

func TestFreePortsAvoidReserved(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if reservedPorts[p] || seen[p] || p <= 0 {
			t.Fatalf("port %d in %v", p, ports)
		}
		seen[p] = true
	}
}

func TestContainersDisabled(t *testing.T) {
	t.Setenv(EnvContainers, "0")
	t.Setenv(EnvAMQPURL, "")
	t.Setenv(EnvRequire, "")
	r := &recorder{TB: t}
	RabbitMQ(r)
	if !r.skipped {
		t.Errorf("RabbitMQ with %s=0 and no %s did not skip", EnvContainers, EnvAMQPURL)
	}
	r = &recorder{TB: t}
	if NewKafkaContainer(r) != nil || !r.skipped {
		t.Errorf("NewKafkaContainer with %s=0 did not skip", EnvContainers)
	}
}

// TestRabbitMQSharedVhosts gets two tests' URLs from the shared container:
// each its own virtual host, so a queue in one is not in the other.
func TestRabbitMQSharedVhosts(t *testing.T) {
	t.Setenv(EnvAMQPURL, "")
	var urls []string
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			u := RabbitMQ(t)
			if strings.Contains(u, ":5672/") {
				t.Fatalf("shared container URL %s is the machine's own RabbitMQ", u)
			}
			urls = append(urls, u)
			conn, err := amqp.Dial(u)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				t.Fatal(err)
			}
			q, err := ch.QueueDeclare("brokertest.vhost", false, true, false, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if q.Messages != 0 {
				t.Fatalf("queue already holds %d messages", q.Messages)
			}
			if err := ch.Publish("", q.Name, false, false, amqp.Publishing{Body: []byte(name)}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(urls) == 2 && urls[0] == urls[1] {
		t.Fatalf("two tests got the same virtual host: %s", urls[0])
	}
}

// TestRabbitMQContainerRestart checks that a durable queue keeps its
// persistent messages across Restart and Kill/Start.
func TestRabbitMQContainerRestart(t *testing.T) {
	c := NewRabbitMQContainer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	publish := func(body string) {
		conn, err := amqp.Dial(c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ch, _ := conn.Channel()
		if _, err := ch.QueueDeclare("kept", true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		_ = ch.Confirm(false)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "kept", false, false,
			amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
	publish("one")
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	publish("two")
	if err := c.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	var got []string
	for {
		m, ok, err := ch.Get("kept", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(m.Body))
	}
	if strings.Join(got, ",") != "one,two" {
		t.Fatalf("after restart and kill the queue holds %q, want one,two", got)
	}
}

// TestKafkaContainerRestart checks that topics and messages survive
// Restart, Pause/Unpause and Kill/Start.
func TestKafkaContainerRestart(t *testing.T) {
	c := NewKafkaContainer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topic := KafkaTopic(t, c.Brokers(), 1)
	produce := func(v string) {
		w := &kafkago.Writer{Addr: kafkago.TCP(c.Brokers()...), Topic: topic, RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
		defer w.Close()
		if err := w.WriteMessages(ctx, kafkago.Message{Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	produce("one")
	for _, fault := range []func(context.Context) error{c.Restart, c.Pause, c.Unpause, c.Kill, c.Start} {
		if err := fault(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce("two")
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: c.Brokers(), Topic: topic, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var got []string
	for len(got) < 2 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(m.Value))
	}
	if strings.Join(got, ",") != "one,two" {
		t.Fatalf("after restarts the topic holds %q, want one,two", got)
	}
}
