package brokertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/testcontainers/testcontainers-go"
)

// Default RabbitMQ images: the official image on a bridge network (what a
// laptop with Docker pulls), and the image `make images` builds from
// Debian's packages for the host network of machines without a registry.
const (
	DefaultRabbitMQImage     = "rabbitmq:4-management"
	DefaultRabbitMQHostImage = "local/rabbitmq:3.10-debian"
)

func defaultRabbitMQImage(n Network) string {
	if n == NetworkHost {
		return DefaultRabbitMQHostImage
	}
	return DefaultRabbitMQImage
}

// RabbitMQ returns an AMQP URL for t, from the first of:
//
//   - AMQP_URL, as given;
//   - a RabbitMQ container shared by every test of the machine's run
//     (started by the first test binary that asks, found by its name by
//     the others), with a virtual host of t's own, deleted at t's cleanup;
//
// and otherwise skips t naming what to set or install (fails with
// BROKERTEST_REQUIRE=1). A test that stops or restarts its broker must own
// it: see NewRabbitMQContainer.
func RabbitMQ(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvAMQPURL); u != "" {
		return u
	}
	if err := dockerAvailable(); err != nil {
		Unavailable(t, "no RabbitMQ: set %s (for example amqp://guest:guest@127.0.0.1:5672/) or start Docker (%v)", EnvAMQPURL, err)
		return ""
	}
	c, err := sharedRabbitMQ(t)
	if err != nil {
		t.Fatalf("brokertest: shared RabbitMQ container: %v", err)
		return ""
	}
	return c.vhostURL(t)
}

// RabbitMQContainer is a RabbitMQ broker in a container a test owns.
type RabbitMQContainer struct {
	*Container
	port int
}

// URL returns the broker's AMQP URL (user guest, virtual host "/").
func (c *RabbitMQContainer) URL() string { return amqpURL(c.port, "/") }

// Port returns the host port the broker's AMQP listener is on.
func (c *RabbitMQContainer) Port() int { return c.port }

func amqpURL(port int, vhost string) string {
	return "amqp://guest:guest@127.0.0.1:" + strconv.Itoa(port) + "/" + url.PathEscape(vhost)
}

// NewRabbitMQContainer starts a RabbitMQ container for t alone, and
// removes it at t's cleanup. Its node name and ports are fixed for its
// life, so durable queues and their persistent messages survive Stop/Start,
// Kill/Start and Restart. It fails t when no container can be started, or
// skips it (BROKERTEST_REQUIRE=1: fails) when no Docker engine answers.
//
// Image: WithImage, else BROKERTEST_RABBITMQ_IMAGE, else
// DefaultRabbitMQImage (bridge network) or DefaultRabbitMQHostImage (host
// network).
func NewRabbitMQContainer(t testing.TB, opts ...ContainerOption) *RabbitMQContainer {
	t.Helper()
	if err := dockerAvailable(); err != nil {
		Unavailable(t, "no RabbitMQ container: start Docker (%v)", err)
		return nil
	}
	c, err := startRabbitMQ(t, "", opts)
	if err != nil {
		t.Fatal(err)
		return nil
	}
	return c
}

// startRabbitMQ starts an owned container, or the shared one when name is
// set (reused when it exists).
func startRabbitMQ(t testing.TB, name string, opts []ContainerOption) (*RabbitMQContainer, error) {
	cfg, err := newConfig(defaultRabbitMQImage, EnvRabbitMQImage, opts)
	if err != nil {
		return nil, fmt.Errorf("brokertest: NewRabbitMQContainer: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	labels := map[string]string{labelPort: strconv.Itoa(ports[0])}
	hostname := ""
	if cfg.network == NetworkHost {
		// The host's own RabbitMQ uses 5672, epmd 4369 and 25672: this one
		// gets its own AMQP, Erlang distribution and epmd ports, all on
		// 127.0.0.1. A fixed node name keeps its database across restarts.
		env = map[string]string{
			"RABBITMQ_NODE_PORT":                  strconv.Itoa(ports[0]),
			"RABBITMQ_NODE_IP_ADDRESS":            "127.0.0.1",
			"RABBITMQ_DIST_PORT":                  strconv.Itoa(ports[1]),
			"RABBITMQ_NODENAME":                   "rabbit@localhost",
			"ERL_EPMD_PORT":                       strconv.Itoa(ports[2]),
			"ERL_EPMD_ADDRESS":                    "127.0.0.1",
			"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
		}
		labels[labelDist], labels[labelEPMD] = strconv.Itoa(ports[1]), strconv.Itoa(ports[2])
	} else {
		// The node name derives from the hostname: fix it, or a restarted
		// container would be a new node without the old one's queues.
		hostname = "brokertest-rabbitmq"
	}
	for k, v := range cfg.env {
		env[k] = v
	}
	tcOpts := append(networkOpts(cfg.network, "5672/tcp", ports[0]),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(labels),
		testcontainers.WithWaitStrategy(probeStrategy{probe: func(ctx context.Context, l map[string]string) error {
			p, err := labelInt(l, labelPort)
			if err != nil {
				return err
			}
			return probeAMQP(ctx, p)
		}}),
	)
	if hostname != "" {
		tcOpts = append(tcOpts, testcontainers.WithConfigModifier(func(c *container.Config) { c.Hostname = hostname }))
	}
	if name != "" {
		tcOpts = append(tcOpts, testcontainers.WithReuseByName(name))
	}
	c, err := start(t, runGeneric, cfg.image, name == "", tcOpts)
	if err != nil {
		return nil, err
	}
	// A reused container keeps the ports of whoever created it.
	info, err := c.Inspect(context.Background())
	if err != nil {
		return nil, fmt.Errorf("brokertest: inspecting RabbitMQ container: %w", err)
	}
	port, err := labelInt(info.Config.Labels, labelPort)
	if err != nil {
		return nil, fmt.Errorf("brokertest: RabbitMQ container %s: %w", info.Name, err)
	}
	return &RabbitMQContainer{
		Container: &Container{c: c, probe: func(ctx context.Context) error { return probeAMQP(ctx, port) }},
		port:      port,
	}, nil
}

// probeAMQP succeeds once the broker on port accepts a connection.
func probeAMQP(ctx context.Context, port int) error {
	dl, _ := ctx.Deadline()
	conn, err := amqp.DialConfig(amqpURL(port, "/"), amqp.Config{Dial: amqp.DefaultDial(time.Until(dl))})
	if err != nil {
		return err
	}
	return conn.Close()
}

var shared struct {
	sync.Mutex
	rabbit *RabbitMQContainer
	kafka  *KafkaContainer
}

// sharedName is the fixed name by which test binaries find a shared
// container; the network mode is part of it, as the two cannot mix.
func sharedName(broker string) string {
	n, _ := defaultNetwork()
	return "brokertest-" + broker + "-" + string(n)
}

func sharedRabbitMQ(t testing.TB) (*RabbitMQContainer, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.rabbit == nil {
		c, err := startRabbitMQ(t, sharedName("rabbitmq"), nil)
		if err != nil {
			return nil, err
		}
		shared.rabbit = c
	}
	return shared.rabbit, nil
}

// vhostURL creates a virtual host for t alone (rabbitmqctl in the
// container: the image need not have the management plugin), deletes it
// at t's cleanup, and returns its URL.
func (c *RabbitMQContainer) vhostURL(t testing.TB) string {
	t.Helper()
	vhost := Name(t, "bk")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Exec(ctx, "rabbitmqctl", "-q", "add_vhost", vhost); err != nil {
		t.Fatalf("brokertest: creating virtual host %s: %v", vhost, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.Exec(ctx, "rabbitmqctl", "-q", "delete_vhost", vhost); err != nil {
			t.Logf("brokertest: deleting virtual host %s: %v", vhost, err)
		}
	})
	if _, err := c.Exec(ctx, "rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"); err != nil {
		t.Fatalf("brokertest: permissions on virtual host %s: %v", vhost, err)
	}
	return amqpURL(c.port, vhost)
}

// RabbitMQExchangeExists reports whether the broker at url has the named
// exchange, asking over a connection of its own. An error other than the
// exchange being absent fails t.
func RabbitMQExchangeExists(t testing.TB, url, exchange string) bool {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("brokertest: connecting to RabbitMQ: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("brokertest: opening a channel: %v", err)
	}
	defer ch.Close()
	// A passive declare only asks whether the exchange exists: its kind
	// and flags are not compared.
	err = ch.ExchangeDeclarePassive(exchange, "topic", true, false, false, false, nil)
	var ae *amqp.Error
	if err != nil && !(errors.As(err, &ae) && ae.Code == amqp.NotFound) {
		t.Fatalf("brokertest: asking for exchange %s: %v", exchange, err)
	}
	return err == nil
}

// DeleteRabbitMQ deletes queues, then exchanges, on the broker at url:
// what a test declared on a shared broker outlives it otherwise. Those
// already gone are skipped, and failures are reported, not failed on.
func DeleteRabbitMQ(t testing.TB, url string, exchanges, queues []string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Logf("brokertest: cleanup: cannot reach RabbitMQ to delete the test topology: %v", err)
		return
	}
	defer conn.Close()
	// A failed delete closes its channel: one channel per delete.
	del := func(f func(*amqp.Channel) error) {
		if ch, err := conn.Channel(); err == nil {
			_ = f(ch)
			_ = ch.Close()
		}
	}
	for _, q := range queues {
		del(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err })
	}
	for _, e := range exchanges {
		del(func(ch *amqp.Channel) error { return ch.ExchangeDelete(e, false, false) })
	}
}
