package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokerkit/brokerkit/bridge"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

func newBridgeCmd() *cobra.Command {
	var (
		group, from string
		concurrency int
		dedup       bool
		every       time.Duration
		quiet       bool
	)
	c := &cobra.Command{
		Use:   "bridge SRC_URL SRC_TOPIC DST_URL DST_TOPIC",
		Short: "Move the messages of a topic to another topic, on another broker or the same",
		Long: `bridge consumes SRC_TOPIC on SRC_URL and publishes every message to
DST_TOPIC on DST_URL, with its ID, key, payload and metadata, until Ctrl-C.

Delivery is at least once: a source message is acknowledged only after the
destination confirmed its copy; a refused or failed publish leaves it to be
delivered again. Ctrl-C stops intake, lets the forwards in flight finish and
acknowledges them: nothing is lost. A message can arrive twice: when the
bridge is killed between the destination's confirm and the source's
acknowledgement, or when the source delivers it twice; --dedup drops the
second copy of an ID this bridge process already forwarded.

The bridge reads as the consumer group --group (a Kafka group, a durable
RabbitMQ queue), so a restarted bridge resumes where the last one stopped.
A new group starts at the newest message (--from oldest: the oldest Kafka
still holds). Every --every it prints a line of counters on stderr:
received, forwarded, failed (to be redelivered), skipped (duplicates).

The same thing, for Go services: package github.com/brokerkit/brokerkit/bridge.`,
		Example: `  brokerkit bridge kafka://127.0.0.1:9092 orders amqp://guest:guest@127.0.0.1:5672/ orders
  brokerkit bridge kafka://127.0.0.1:9092 orders kafka://127.0.0.1:9092 orders.copy --from oldest --dedup
  brokerkit bridge amqp://guest:guest@127.0.0.1:5672/ events kafka://127.0.0.1:9092 events --group to-kafka --every 1s`,
		Args: rangeArgs(4, 4),
		RunE: func(c *cobra.Command, args []string) error {
			srcURL, srcTopic, dstURL, dstTopic := noteURL(args[0]), args[1], noteURL(args[2]), args[3]
			if concurrency < 1 || every <= 0 {
				return usageErr{fmt.Errorf("bridge: --concurrency must be at least 1 and --every positive")}
			}
			opts := []transport.SubscribeOption{transport.WithGroup(group), transport.WithConcurrency(concurrency)}
			switch from {
			case "newest":
			case "oldest":
				opts = append(opts, transport.WithStart(transport.StartOldest))
			default:
				return usageErr{fmt.Errorf("bridge: --from %q: want newest or oldest", from)}
			}
			bopts := []bridge.Option{bridge.WithSubscribeOptions(opts...)}
			if dedup {
				store, err := middleware.NewMemoryStore()
				if err != nil {
					return err
				}
				mw, err := middleware.Dedup(store)
				if err != nil {
					return err
				}
				bopts = append(bopts, bridge.WithMiddleware(mw))
			}
			return runBridge(c.Context(), c.ErrOrStderr(), srcURL, srcTopic, dstURL, dstTopic, every, quiet, bopts)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&group, "group", "g", "brokerkit-bridge", "consumer group on the source")
	fl.StringVar(&from, "from", "newest", "where a new group starts: newest or oldest (Kafka only)")
	fl.IntVarP(&concurrency, "concurrency", "c", 8, "forwards in flight at once (same key: one at a time, in order)")
	fl.BoolVar(&dedup, "dedup", false, "forward each message ID once per bridge process")
	fl.DurationVar(&every, "every", 5*time.Second, "print counters this often")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only the final counters")
	_ = c.RegisterFlagCompletionFunc("from", cobra.FixedCompletions([]string{"newest", "oldest"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runBridge(ctx context.Context, stderr io.Writer, srcURL, srcTopic, dstURL, dstTopic string, every time.Duration, quiet bool, opts []bridge.Option) error {
	src, err := transport.OpenSubscriber(ctx, srcURL)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := transport.OpenPublisher(ctx, dstURL)
	if err != nil {
		return err
	}
	defer dst.Close()
	b, err := bridge.New(src, srcTopic, dst, dstTopic, opts...)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { done <- b.Run(runCtx) }()
	line := func(what string) {
		n := b.Counters()
		fmt.Fprintf(stderr, "brokerkit: bridge %s: received %d forwarded %d failed %d skipped %d\n",
			what, n.Received, n.Forwarded, n.Failed, n.Skipped)
	}
	if !quiet {
		fmt.Fprintf(stderr, "brokerkit: bridging %s on %s to %s on %s; Ctrl-C to stop\n",
			srcTopic, showURL(srcURL), dstTopic, showURL(dstURL))
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	ready := b.Ready()
	connect := time.NewTimer(connectTimeout)
	defer connect.Stop()
	var notReady error
	for {
		select {
		case <-connect.C:
			if ready != nil {
				// Not subscribed in time: stop Run, which then returns
				// the context error from Subscribe.
				notReady = unavailable(srcURL)
				stop()
			}
		case <-ready:
			ready = nil
			if !quiet {
				fmt.Fprintln(stderr, "brokerkit: bridge subscribed")
			}
		case err := <-done:
			if notReady != nil {
				return notReady
			}
			line("stopped")
			return err
		case <-tick.C:
			if !quiet {
				line("running")
			}
		}
	}
}
