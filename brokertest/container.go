package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Environment variables for containers.
const (
	// EnvContainers set to "0" never starts a container: tests use the
	// environment's brokers, the embedded Kafka, or skip.
	EnvContainers = "BROKERTEST_CONTAINERS"
	// EnvNetwork picks the network mode of containers: "bridge" (mapped
	// ports, what Docker Desktop gives) or "host" (every container on
	// loopback ports of its own). Default: "host" when
	// TESTCONTAINERS_PROVIDER=hostnet, else "bridge".
	EnvNetwork = "BROKERTEST_NETWORK"
	// EnvRabbitMQImage and EnvKafkaImage choose the images. Defaults: see
	// DefaultRabbitMQImage and DefaultKafkaImage.
	EnvRabbitMQImage = "BROKERTEST_RABBITMQ_IMAGE"
	EnvKafkaImage    = "BROKERTEST_KAFKA_IMAGE"
)

// Network is how a container is reached.
type Network string

const (
	// NetworkBridge publishes the broker's port on a free 127.0.0.1 port
	// of the host, fixed for the container's life (it survives restarts).
	NetworkBridge Network = "bridge"
	// NetworkHost runs the container on the host's network, its broker
	// listening on free loopback ports. For Linux engines whose bridge is
	// off (dockerd --bridge=none): nothing is sent to a bridge address.
	NetworkHost Network = "host"
)

// HostNetProvider is the testcontainers runtime provider this package
// registers: the standard Docker runtime with "host" as its default
// network, so that testcontainers never creates a bridge network of its
// own. Select it with TESTCONTAINERS_PROVIDER=hostnet (host network mode
// then becomes the default).
const HostNetProvider = "hostnet"

type hostNet struct{}

func (hostNet) Initialize(context.Context) (testcontainers.RuntimeConfig, error) {
	return testcontainers.RuntimeConfig{DefaultBridgeNetwork: "host", PublishedHost: "127.0.0.1"}, nil
}

func init() {
	// Registration must precede any Docker discovery; an error means the
	// name is registered already (by an earlier copy of this code).
	_ = testcontainers.RegisterProvider(HostNetProvider, func() testcontainers.RuntimeProvider { return hostNet{} })
}

// reservedPorts are those of the machine's own brokers (AMQP, epmd,
// Erlang distribution, Redis): a container never listens on them.
var reservedPorts = map[int]bool{5672: true, 4369: true, 25672: true, 6379: true}

// ContainerOption configures NewRabbitMQContainer and NewKafkaContainer.
type ContainerOption func(*containerConfig) error

type containerConfig struct {
	image   string
	network Network
	env     map[string]string // extra environment (RabbitMQ)
}

// WithImage runs image instead of the default.
func WithImage(image string) ContainerOption {
	return func(c *containerConfig) error {
		if strings.TrimSpace(image) == "" {
			return errors.New("WithImage: empty image")
		}
		c.image = image
		return nil
	}
}

// WithNetwork picks the network mode instead of the default (EnvNetwork).
func WithNetwork(n Network) ContainerOption {
	return func(c *containerConfig) error {
		if n != NetworkBridge && n != NetworkHost {
			return fmt.Errorf("WithNetwork: unknown mode %q (want %q or %q)", n, NetworkBridge, NetworkHost)
		}
		c.network = n
		return nil
	}
}

// WithEnv adds environment variables to the container (for example a
// RabbitMQ setting); they win over brokertest's own.
func WithEnv(env map[string]string) ContainerOption {
	return func(c *containerConfig) error {
		if c.env == nil {
			c.env = map[string]string{}
		}
		for k, v := range env {
			c.env[k] = v
		}
		return nil
	}
}

// defaultNetwork is the mode without WithNetwork: EnvNetwork, else host
// when the hostnet provider is selected, else bridge.
func defaultNetwork() (Network, error) {
	switch v := os.Getenv(EnvNetwork); v {
	case "":
		if strings.EqualFold(os.Getenv("TESTCONTAINERS_PROVIDER"), HostNetProvider) {
			return NetworkHost, nil
		}
		return NetworkBridge, nil
	case string(NetworkBridge), string(NetworkHost):
		return Network(v), nil
	default:
		return "", fmt.Errorf("%s=%q: want %q or %q", EnvNetwork, v, NetworkBridge, NetworkHost)
	}
}

func newConfig(defaultImage func(Network) string, envImage string, opts []ContainerOption) (*containerConfig, error) {
	n, err := defaultNetwork()
	if err != nil {
		return nil, err
	}
	cfg := &containerConfig{network: n}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("nil ContainerOption")
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.image == "" {
		cfg.image = os.Getenv(envImage)
	}
	if cfg.image == "" {
		cfg.image = defaultImage(cfg.network)
	}
	if cfg.network == NetworkHost && os.Getenv("TESTCONTAINERS_PROVIDER") == "" {
		// Without it testcontainers looks for a "bridge" network and,
		// finding none, creates one: host mode must not need a bridge.
		os.Setenv("TESTCONTAINERS_PROVIDER", HostNetProvider)
	}
	return cfg, nil
}

var docker struct {
	once sync.Once
	err  error
}

// dockerAvailable reports why no Docker engine can be used (nil: one
// answers). It asks once per test binary.
func dockerAvailable() error {
	if os.Getenv(EnvContainers) == "0" {
		return fmt.Errorf("%s=0", EnvContainers)
	}
	docker.once.Do(func() {
		if _, err := defaultNetwork(); err == nil {
			// Select the provider before the first Docker call.
			_, _ = newConfig(func(Network) string { return "x" }, "", nil)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err == nil {
			_, err = cli.Ping(ctx, client.PingOptions{})
			cli.Close()
		}
		if err != nil {
			docker.err = fmt.Errorf("no Docker engine answers: %v", err)
		}
	})
	return docker.err
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, never one of
// the machine's own brokers'. The kernel picks them at random from its
// ephemeral range, so parallel test binaries get different ones.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		if p := l.Addr().(*net.TCPAddr).Port; !reservedPorts[p] {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// Container is a broker container that a test owns: it can stop, kill,
// freeze and restart it. Its name, ports and data survive Stop/Start,
// Kill/Start and Restart. It is removed at the test's cleanup, and its log
// is printed first when the test failed.
type Container struct {
	c     testcontainers.Container
	probe func(context.Context) error
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.c.GetContainerID() }

// Stop stops the broker gracefully (SIGTERM, then SIGKILL after 10 s).
func (c *Container) Stop(ctx context.Context) error {
	d := 10 * time.Second
	return wrap("stop", c.c.Stop(ctx, &d))
}

// Start starts a stopped or killed container and returns once the broker
// accepts clients again.
func (c *Container) Start(ctx context.Context) error {
	return wrap("start", c.c.Start(ctx))
}

// Restart stops the broker gracefully and starts it again.
func (c *Container) Restart(ctx context.Context) error {
	if err := c.Stop(ctx); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Kill stops the broker at once with SIGKILL, as a crash would: nothing is
// flushed or closed. Start brings it back.
func (c *Container) Kill(ctx context.Context) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return wrap("kill", err)
	}
	defer cli.Close()
	_, err = cli.ContainerKill(ctx, c.ID(), client.ContainerKillOptions{Signal: "KILL"})
	if err == nil {
		err = c.waitExited(ctx, cli)
	}
	return wrap("kill", err)
}

func (c *Container) waitExited(ctx context.Context, cli *testcontainers.DockerClient) error {
	for {
		res, err := cli.ContainerInspect(ctx, c.ID(), client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		if st := res.Container.State; st != nil && !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Pause freezes every process of the broker (cgroup freezer): its sockets
// stay open but nothing answers, as behind a network partition.
func (c *Container) Pause(ctx context.Context) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return wrap("pause", err)
	}
	defer cli.Close()
	_, err = cli.ContainerPause(ctx, c.ID(), client.ContainerPauseOptions{})
	return wrap("pause", err)
}

// Unpause thaws a paused broker and returns once it answers clients.
func (c *Container) Unpause(ctx context.Context) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return wrap("unpause", err)
	}
	defer cli.Close()
	if _, err = cli.ContainerUnpause(ctx, c.ID(), client.ContainerUnpauseOptions{}); err != nil {
		return wrap("unpause", err)
	}
	return wrap("unpause", pollReady(ctx, c.probe))
}

// Logs returns what the broker wrote to stdout and stderr so far.
func (c *Container) Logs(ctx context.Context) (string, error) {
	r, err := c.c.Logs(ctx)
	if err != nil {
		return "", wrap("logs", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), wrap("logs", err)
}

// Exec runs cmd in the container and returns its combined output; a
// non-zero exit status is an error that carries the output.
func (c *Container) Exec(ctx context.Context, cmd ...string) (string, error) {
	code, r, err := c.c.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return "", wrap("exec", err)
	}
	var out bytes.Buffer
	_, _ = io.Copy(&out, r)
	if code != 0 {
		return out.String(), fmt.Errorf("brokertest: %s exited with %d: %s", cmd[0], code, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("brokertest: container %s: %w", op, err)
}

// probeStrategy waits until probe succeeds: on the first start and on
// every later Start (a log line would match the previous run's output).
type probeStrategy struct {
	probe func(ctx context.Context, labels map[string]string) error
}

func (s probeStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	info, err := target.Inspect(ctx)
	if err != nil {
		return err
	}
	var labels map[string]string
	if info.Config != nil {
		labels = info.Config.Labels
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return pollReady(ctx, func(ctx context.Context) error { return s.probe(ctx, labels) })
}

func pollReady(ctx context.Context, probe func(context.Context) error) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Labels on brokertest's containers: the host ports their brokers listen
// on, so that a test binary reusing a shared container finds them.
const (
	labelPrefix = "org.brokerkit.brokertest."
	labelPort   = labelPrefix + "port"
	labelDist   = labelPrefix + "dist-port"
	labelEPMD   = labelPrefix + "epmd-port"
)

func labelInt(labels map[string]string, key string) (int, error) {
	n, err := strconv.Atoi(labels[key])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("container label %s=%q is not a port", key, labels[key])
	}
	return n, nil
}

// networkOpts puts a container on the host network, or publishes its
// containerPort on hostPort of 127.0.0.1 (fixed, so that it survives a
// restart: an ephemeral mapping would change).
func portMap(containerPort string, hostPort int) network.PortMap {
	return network.PortMap{network.MustParsePort(containerPort): {{
		HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(hostPort),
	}}}
}

func networkOpts(n Network, containerPort string, hostPort int) []testcontainers.ContainerCustomizer {
	if n == NetworkHost {
		return []testcontainers.ContainerCustomizer{
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
		}
	}
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(containerPort),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = portMap(containerPort, hostPort)
		}),
	}
}

// runFunc starts a container: testcontainers.Run, or a module's Run.
type runFunc func(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error)

func runGeneric(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
	c, err := testcontainers.Run(ctx, image, opts...)
	if c == nil {
		return nil, err // not a typed nil in the interface
	}
	return c, err
}

// start runs the container and, for an owned one, ties it to t: its log
// is printed when t failed, then it is removed.
func start(t testing.TB, run runFunc, image string, owned bool, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// testcontainers' lifecycle messages would drown a fault test's output
	// (and a shared container outlives t): errors are returned instead,
	// and an owned container's log is printed when its test fails.
	opts = append(opts, testcontainers.WithLogger(tclog.NewNoopLogger()))
	c, err := run(ctx, image, opts...)
	if owned {
		testcontainers.CleanupContainer(t, c)
		if c != nil {
			t.Cleanup(func() { dumpLogs(t, c) })
		}
	}
	if err != nil {
		hint := ""
		if strings.HasPrefix(image, "local/") {
			hint = " (build the local images with `make images`)"
		}
		if c != nil && !owned {
			dumpLogs(t, c)
		}
		return nil, fmt.Errorf("brokertest: starting %s: %w%s", image, err, hint)
	}
	return c, nil
}

func dumpLogs(t testing.TB, c testcontainers.Container) {
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Logs(ctx)
	if err != nil {
		t.Logf("brokertest: container %s: no logs: %v", c.GetContainerID(), err)
		return
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	const max = 64 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	t.Logf("brokertest: log of container %s:\n%s", c.GetContainerID(), b)
}
