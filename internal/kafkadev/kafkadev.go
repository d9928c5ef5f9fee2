// Package kafkadev runs the embedded Kafka-protocol broker (kfake) as a
// server of its own: the Kafka of brokerkit's container image, of
// `brokerkit dev kafka` and of local development. It is not Apache Kafka:
// every replica lives in one process, and its group coordinator and timing
// differ.
package kafkadev

import (
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config says what to serve. The zero value is one broker on a free
// loopback port, with nothing kept on disk.
type Config struct {
	// Brokers is how many brokers the cluster has. Default 1.
	Brokers int
	// Ports fixes the brokers' ports (one each, in order), so that a
	// restarted server is found where it was. Default: free ports.
	Ports []int
	// DataDir keeps topics, logs and committed offsets across restarts.
	// Default: none, everything is lost on Close.
	DataDir string
	// Partitions is the partition count of topics created on first use.
	// Default 1, as Apache Kafka's num.partitions.
	Partitions int
	// NoAutoCreateTopics refuses requests for missing topics instead of
	// creating them (auto.create.topics.enable=false). Default: create.
	NoAutoCreateTopics bool
}

// Server is a running kfake cluster.
type Server struct{ c *kfake.Cluster }

// Start starts the cluster. Topics are created on first use, as Apache
// Kafka does by default, unless cfg.NoAutoCreateTopics. kfake listens on 127.0.0.1 only.
func Start(cfg Config) (*Server, error) {
	if cfg.Brokers == 0 {
		cfg.Brokers = max(1, len(cfg.Ports))
	}
	if cfg.Brokers < 0 {
		return nil, fmt.Errorf("kafkadev: %d brokers", cfg.Brokers)
	}
	if len(cfg.Ports) > 0 && len(cfg.Ports) != cfg.Brokers {
		return nil, fmt.Errorf("kafkadev: %d ports for %d brokers", len(cfg.Ports), cfg.Brokers)
	}
	opts := []kfake.Opt{kfake.NumBrokers(cfg.Brokers)}
	if !cfg.NoAutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if len(cfg.Ports) > 0 {
		opts = append(opts, kfake.Ports(cfg.Ports...))
	}
	if cfg.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(cfg.Partitions))
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("kafkadev: data directory: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafkadev: starting kfake: %w", err)
	}
	return &Server{c: c}, nil
}

// Addrs returns the brokers' "host:port" addresses.
func (s *Server) Addrs() []string { return s.c.ListenAddrs() }

// Cluster returns the kfake cluster, for fault controls (leader moves,
// request interception).
func (s *Server) Cluster() *kfake.Cluster { return s.c }

// Close stops every broker; with a DataDir, what they hold stays on disk.
func (s *Server) Close() { s.c.Close() }
