package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brokerkit/brokerkit/internal/kafkadev"
)

func newDevCmd() *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Run a broker for local development",
	}
	var (
		ports      []int
		brokers    int
		partitions int
		dataDir    string
	)
	kafka := &cobra.Command{
		Use:   "kafka",
		Short: "Run an embedded Kafka-protocol broker (kfake) until Ctrl-C",
		Long: `dev kafka runs kfake, an in-process broker that speaks the Kafka protocol
(github.com/twmb/franz-go/pkg/kfake), on 127.0.0.1: a Kafka for local
development and tests with nothing to install. Topics are created on first
use. It prints the broker URL on stdout, then runs until Ctrl-C.

It is not Apache Kafka: every replica lives in this one process, and its
group coordinator and timings differ. Without --data-dir everything is lost
when it stops; with it, topics, logs and committed offsets survive a restart
(give the same --port so that clients find it again).`,
		Example: `  brokerkit dev kafka                               # 127.0.0.1:9092
  brokerkit dev kafka --port 19092 --data-dir ./kafka-data
  brokerkit dev kafka --brokers 3 --port 0              # three brokers on free ports
  brokerkit bench kafka://127.0.0.1:9092                # in another terminal`,
		Args: rangeArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg := kafkadev.Config{Brokers: brokers, DataDir: dataDir, Partitions: partitions}
			if brokers < 1 || partitions < 0 {
				return usageErr{fmt.Errorf("dev kafka: --brokers must be at least 1, --partitions not negative")}
			}
			switch {
			case len(ports) == 1 && ports[0] == 0:
				// free ports
			case len(ports) == brokers:
				cfg.Ports = ports
			case len(ports) == 1:
				// consecutive ports from the first
				for i := range brokers {
					cfg.Ports = append(cfg.Ports, ports[0]+i)
				}
			default:
				return usageErr{fmt.Errorf("dev kafka: %d ports for %d brokers: give one (the first of consecutive ports) or one per broker", len(ports), brokers)}
			}
			srv, err := kafkadev.Start(cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			fmt.Fprintf(c.OutOrStdout(), "kafka://%s\n", strings.Join(srv.Addrs(), ","))
			fmt.Fprintf(c.ErrOrStderr(), "brokerkit: kfake serving %d broker(s) on %s; Ctrl-C to stop\n", brokers, strings.Join(srv.Addrs(), ", "))
			<-c.Context().Done()
			fmt.Fprintln(c.ErrOrStderr(), "brokerkit: stopping kfake")
			return nil
		},
	}
	fl := kafka.Flags()
	fl.IntSliceVarP(&ports, "port", "p", []int{9092}, "listen port(s): one per broker, or the first of consecutive ports; 0 for free ports")
	fl.IntVar(&brokers, "brokers", 1, "number of brokers")
	fl.IntVar(&partitions, "partitions", 1, "partitions of topics created on first use")
	fl.StringVar(&dataDir, "data-dir", "", "keep topics and offsets in `DIR` across restarts (default: in memory)")
	_ = kafka.MarkFlagDirname("data-dir")
	dev.AddCommand(kafka)
	return dev
}
