package brokertest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
)

// Default Kafka images: Confluent's single-node Kafka through the
// testcontainers kafka module on a bridge network (what a laptop with
// Docker pulls), and brokerkit's kfake server, which `make images` builds,
// for the host network of machines without a registry.
const (
	DefaultKafkaImage     = "confluentinc/confluent-local:7.5.0"
	DefaultKafkaHostImage = "local/kfake:dev"
)

func defaultKafkaImage(n Network) string {
	if n == NetworkHost {
		return DefaultKafkaHostImage
	}
	return DefaultKafkaImage
}

// KafkaContainer is a Kafka broker in a container a test owns.
type KafkaContainer struct {
	*Container
	port int
}

// Brokers returns the broker's "host:port" address.
func (c *KafkaContainer) Brokers() []string {
	return []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))}
}

// URL returns a kafka:// URL for the broker, with query (such as
// "acks=one", without "?") appended when not empty.
func (c *KafkaContainer) URL(query string) string {
	u := "kafka://" + strings.Join(c.Brokers(), ",")
	if query != "" {
		u += "?" + query
	}
	return u
}

// NewKafkaContainer starts a Kafka container for t alone, and removes it
// at t's cleanup. Its port is fixed for its life and its log is kept in
// the container, so topics, messages and committed offsets survive
// Stop/Start, Kill/Start and Restart. It fails t when no container can be
// started, or skips it (BROKERTEST_REQUIRE=1: fails) when no Docker
// engine answers.
//
// Image: WithImage, else BROKERTEST_KAFKA_IMAGE, else DefaultKafkaImage
// (bridge network) or DefaultKafkaHostImage (host network). An image whose
// name holds "kfake" runs brokerkit's kfake server, which needs the host
// network; any other runs through the testcontainers kafka module
// (confluentinc/confluent-local images), which needs a bridge network.
func NewKafkaContainer(t testing.TB, opts ...ContainerOption) *KafkaContainer {
	t.Helper()
	if err := dockerAvailable(); err != nil {
		Unavailable(t, "no Kafka container: start Docker (%v)", err)
		return nil
	}
	c, err := startKafka(t, "", opts)
	if err != nil {
		t.Fatal(err)
		return nil
	}
	return c
}

func startKafka(t testing.TB, name string, opts []ContainerOption) (*KafkaContainer, error) {
	cfg, err := newConfig(defaultKafkaImage, EnvKafkaImage, opts)
	if err != nil {
		return nil, fmt.Errorf("brokertest: NewKafkaContainer: %w", err)
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	kfakeImage := strings.Contains(cfg.image, "kfake")
	switch {
	case kfakeImage && cfg.network != NetworkHost:
		return nil, fmt.Errorf("brokertest: the kfake image %s listens on 127.0.0.1 only: it needs %s=%s", cfg.image, EnvNetwork, NetworkHost)
	case !kfakeImage && cfg.network == NetworkHost:
		return nil, fmt.Errorf("brokertest: Kafka image %s runs through the testcontainers kafka module, which needs %s=%s", cfg.image, EnvNetwork, NetworkBridge)
	}
	tcOpts := append(networkOpts(cfg.network, "9093/tcp", ports[0]),
		testcontainers.WithLabels(map[string]string{labelPort: strconv.Itoa(ports[0])}),
		testcontainers.WithWaitStrategy(probeStrategy{probe: func(ctx context.Context, l map[string]string) error {
			p, err := labelInt(l, labelPort)
			if err != nil {
				return err
			}
			return probeKafka(ctx, p)
		}}),
	)
	if name != "" {
		tcOpts = append(tcOpts, testcontainers.WithReuseByName(name))
	}
	run := runGeneric
	if kfakeImage {
		// The log lives in the container's file system, which a restart
		// keeps; the port is fixed so that clients find the broker again.
		// Missing topics are refused, as by Kafka(t)'s in-process cluster,
		// so that a test sees the same broker either way.
		tcOpts = append(tcOpts, testcontainers.WithCmd("-ports", strconv.Itoa(ports[0]), "-data", "/data", "-auto-create-topics=false"))
	} else {
		tcOpts = append(tcOpts, tckafka.WithClusterID("brokertest"))
		run = func(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
			c, err := tckafka.Run(ctx, image, opts...)
			if c == nil {
				return nil, err
			}
			return c, err
		}
	}
	c, err := start(t, run, cfg.image, name == "", tcOpts)
	if err != nil {
		return nil, err
	}
	info, err := c.Inspect(context.Background())
	if err != nil {
		return nil, fmt.Errorf("brokertest: inspecting Kafka container: %w", err)
	}
	port, err := labelInt(info.Config.Labels, labelPort)
	if err != nil {
		return nil, fmt.Errorf("brokertest: Kafka container %s: %w", info.Name, err)
	}
	return &KafkaContainer{
		Container: &Container{c: c, probe: func(ctx context.Context) error { return probeKafka(ctx, port) }},
		port:      port,
	}, nil
}

// probeKafka succeeds once the broker on port answers a metadata request.
func probeKafka(ctx context.Context, port int) error {
	conn, err := kafkago.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	_, err = conn.Brokers()
	return err
}

func sharedKafka(t testing.TB) (*KafkaContainer, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.kafka == nil {
		c, err := startKafka(t, sharedName("kafka"), nil)
		if err != nil {
			return nil, err
		}
		shared.kafka = c
	}
	return shared.kafka, nil
}
