package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// RabbitMQCluster is a RabbitMQ cluster of several containers that a test
// owns, on the host network: one Erlang cookie, joined with rabbitmqctl
// join_cluster, so that quorum queues are replicated on every node. Each
// node is a RabbitMQContainer that can be stopped, killed, paused and
// started again by its index (Node).
//
// The nodes are rabbit1@localhost, rabbit2@localhost, ... . They share the
// host's name, so they find each other through one epmd (the Erlang port
// mapper), which runs in a container of its own: a node's death does not
// take the name service of the others with it. Every port (AMQP,
// distribution, epmd) is a free loopback port of its own, never the
// machine's RabbitMQ's.
type RabbitMQCluster struct {
	nodes []*RabbitMQContainer
	names []string
	epmd  *Container
}

// Node returns node i (from 0), to stop, kill or pause it.
func (c *RabbitMQCluster) Node(i int) *RabbitMQContainer { return c.nodes[i] }

// Size returns the number of nodes.
func (c *RabbitMQCluster) Size() int { return len(c.nodes) }

// NodeName returns the Erlang node name of node i (rabbit1@localhost, ...).
func (c *RabbitMQCluster) NodeName(i int) string { return c.names[i] }

// Addr returns the "127.0.0.1:port" AMQP address of node i.
func (c *RabbitMQCluster) Addr(i int) string {
	return "127.0.0.1:" + strconv.Itoa(c.nodes[i].port)
}

// URL returns the cluster's AMQP URL (user guest, virtual host "/") with
// every node's address, in order from node first (modulo the size), as
// amqp://guest:guest@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/.
func (c *RabbitMQCluster) URL(first int) string {
	var hosts []string
	for k := range c.nodes {
		hosts = append(hosts, c.Addr((first+k)%len(c.nodes)))
	}
	return "amqp://guest:guest@" + strings.Join(hosts, ",") + "/"
}

// ClusterStatus returns `rabbitmqctl cluster_status` as seen from node i.
func (c *RabbitMQCluster) ClusterStatus(ctx context.Context, i int) (string, error) {
	return c.nodes[i].Exec(ctx, "rabbitmqctl", "cluster_status")
}

// NewRabbitMQCluster starts a cluster of n RabbitMQ nodes (n >= 1) for t,
// joins them, and removes them at t's cleanup. It needs the host network
// (TESTCONTAINERS_PROVIDER=hostnet or BROKERTEST_NETWORK=host) and an
// image with rabbitmq-server and epmd, such as DefaultRabbitMQHostImage;
// it fails t when the cluster cannot be formed, and skips it
// (BROKERTEST_REQUIRE=1: fails) when no Docker engine answers.
func NewRabbitMQCluster(t testing.TB, n int, opts ...ContainerOption) *RabbitMQCluster {
	t.Helper()
	if err := dockerAvailable(); err != nil {
		Unavailable(t, "no RabbitMQ cluster: start Docker (%v)", err)
		return nil
	}
	c, err := startRabbitMQCluster(t, n, opts)
	if err != nil {
		t.Fatal(err)
		return nil
	}
	return c
}

func startRabbitMQCluster(t testing.TB, n int, opts []ContainerOption) (*RabbitMQCluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("brokertest: NewRabbitMQCluster: %d nodes", n)
	}
	cfg, err := newConfig(defaultRabbitMQImage, EnvRabbitMQImage, opts)
	if err != nil {
		return nil, fmt.Errorf("brokertest: NewRabbitMQCluster: %w", err)
	}
	if cfg.network != NetworkHost {
		return nil, errors.New("brokertest: NewRabbitMQCluster needs the host network (TESTCONTAINERS_PROVIDER=hostnet or BROKERTEST_NETWORK=host)")
	}
	// RabbitMQ's command-line tools listen on the distribution port +
	// 10000 and up: keep the distribution ports low enough for that.
	ports, err := freePortsBelow(1+2*n, 55000)
	if err != nil {
		return nil, err
	}
	epmdPort := ports[0]
	var cookie [16]byte
	_, _ = rand.Read(cookie[:])

	// The port mapper all nodes register with, in a container of its own.
	epmd, err := start(t, runGeneric, cfg.image, true, append(networkOpts(NetworkHost, "", 0),
		testcontainers.WithCmd("epmd", "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1"),
		testcontainers.WithWaitStrategy(probeStrategy{probe: func(ctx context.Context, _ map[string]string) error {
			return probeTCP(ctx, epmdPort)
		}}),
	))
	if err != nil {
		return nil, fmt.Errorf("brokertest: epmd for the RabbitMQ cluster: %w", err)
	}
	cl := &RabbitMQCluster{
		epmd:  &Container{c: epmd, probe: func(ctx context.Context) error { return probeTCP(ctx, epmdPort) }},
		nodes: make([]*RabbitMQContainer, n),
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("rabbit%d@localhost", i+1)
		cl.names = append(cl.names, name)
		amqpPort, distPort := ports[1+2*i], ports[2+2*i]
		env := map[string]string{
			"RABBITMQ_NODE_PORT":                  strconv.Itoa(amqpPort),
			"RABBITMQ_NODE_IP_ADDRESS":            "127.0.0.1",
			"RABBITMQ_DIST_PORT":                  strconv.Itoa(distPort),
			"RABBITMQ_NODENAME":                   name,
			"ERL_EPMD_PORT":                       strconv.Itoa(epmdPort),
			"ERL_EPMD_ADDRESS":                    "127.0.0.1",
			"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
			"RABBITMQ_ERLANG_COOKIE":              hex.EncodeToString(cookie[:]),
		}
		for k, v := range cfg.env {
			env[k] = v
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			labels := map[string]string{labelPort: strconv.Itoa(amqpPort), labelDist: strconv.Itoa(distPort),
				labelEPMD: strconv.Itoa(epmdPort)}
			c, err := start(t, runGeneric, cfg.image, true, append(networkOpts(NetworkHost, "", 0),
				testcontainers.WithEnv(env),
				testcontainers.WithLabels(labels),
				testcontainers.WithWaitStrategy(probeStrategy{probe: func(ctx context.Context, _ map[string]string) error {
					return probeAMQP(ctx, amqpPort)
				}}),
			))
			if err != nil {
				errs[i] = fmt.Errorf("brokertest: RabbitMQ cluster node %s: %w", name, err)
				return
			}
			cl.nodes[i] = &RabbitMQContainer{
				Container: &Container{c: c, probe: func(ctx context.Context) error { return probeAMQP(ctx, amqpPort) }},
				port:      amqpPort,
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 1; i < n; i++ {
		node := cl.nodes[i]
		for _, cmd := range [][]string{
			{"rabbitmqctl", "-q", "stop_app"},
			{"rabbitmqctl", "-q", "join_cluster", cl.names[0]},
			{"rabbitmqctl", "-q", "start_app"},
		} {
			if _, err := node.Exec(ctx, cmd...); err != nil {
				return nil, fmt.Errorf("brokertest: joining %s to %s: %w", cl.names[i], cl.names[0], err)
			}
		}
		if err := pollReady(ctx, node.probe); err != nil {
			return nil, fmt.Errorf("brokertest: %s after joining: %w", cl.names[i], err)
		}
	}
	// Every node must list all others as running.
	status, err := cl.ClusterStatus(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, name := range cl.names {
		if !strings.Contains(status, name) {
			return nil, fmt.Errorf("brokertest: %s is not in the cluster: %s", name, status)
		}
	}
	return cl, nil
}

// freePortsBelow is freePorts with every port below limit.
func freePortsBelow(n, limit int) ([]int, error) {
	var out []int
	for range 50 {
		ports, err := freePorts(n)
		if err != nil {
			return nil, err
		}
		for _, p := range ports {
			if p < limit && len(out) < n && !containsInt(out, p) {
				out = append(out, p)
			}
		}
		if len(out) == n {
			return out, nil
		}
	}
	return nil, fmt.Errorf("brokertest: no %d free ports below %d", n, limit)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// probeTCP succeeds once something accepts connections on 127.0.0.1:port.
func probeTCP(ctx context.Context, port int) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return conn.Close()
}
