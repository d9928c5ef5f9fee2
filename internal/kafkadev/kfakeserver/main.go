// Command kfakeserver serves the embedded Kafka-protocol broker (kfake) until
// SIGINT or SIGTERM. It is the program inside brokerkit's local Kafka
// container image (see docs/testing.md); `brokerkit dev kafka` runs the same
// server.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/brokerkit/brokerkit/internal/kafkadev"
)

func main() {
	var cfg kafkadev.Config
	ports := flag.String("ports", "", "comma-separated broker ports, one per broker (default: one broker on a free port)")
	flag.IntVar(&cfg.Brokers, "brokers", 0, "number of brokers (default: one per port, else 1)")
	flag.StringVar(&cfg.DataDir, "data", "", "directory that keeps topics and offsets across restarts (default: none)")
	flag.IntVar(&cfg.Partitions, "partitions", 1, "partitions of a topic created on first use")
	autoCreate := flag.Bool("auto-create-topics", true, "create a missing topic on first use, as Apache Kafka does by default")
	flag.Parse()
	cfg.NoAutoCreateTopics = !*autoCreate
	for _, p := range strings.Split(*ports, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			fmt.Fprintf(os.Stderr, "kfakeserver: bad port %q\n", p)
			os.Exit(2)
		}
		cfg.Ports = append(cfg.Ports, n)
	}
	srv, err := kafkadev.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Readiness line that container wait strategies look for.
	fmt.Printf("kfake ready on %s\n", strings.Join(srv.Addrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Close()
}
