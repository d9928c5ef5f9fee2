package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokerkit/brokerkit/transport"
)

type subFlags struct {
	format, group, from string
	count, concurrency  int
	timeout             time.Duration
	quiet               bool
}

// errNotPrinted refuses the deliveries that arrive after --count was
// reached: they were not printed, so they must not be acknowledged.
var errNotPrinted = errors.New("count reached; left for another consumer")

func newSubCmd() *cobra.Command {
	var f subFlags
	c := &cobra.Command{
		Use:   "sub [URL] TOPIC",
		Short: "Print the messages of a topic as they arrive",
		Long: `sub prints each message of TOPIC as it arrives, with its ID, key, metadata,
attempt, publish time and payload (--format text for people, json for
programs: one JSON object a line, the format 'pub --format json' reads).
A payload that is not printable UTF-8 is shown as base64, never raw.

It stops on Ctrl-C, after --count messages or when --timeout runs out,
and prints a summary on stderr: runtime, messages, rate. Once it is
subscribed it says so on stderr ("subscribed to ..."): messages published
from then on are printed.

sub acknowledges each message once it printed it:
  Kafka     with --group, the group's offset is committed past it; without a
            group nothing is committed (an ephemeral reader).
  RabbitMQ  basic.ack: the message leaves the queue. With --group the queue is
            durable and keeps messages while no one reads; without a group it
            is an exclusive queue that lives as long as sub.
  memory    the message leaves the group's queue.
Messages that arrive after --count are not acknowledged: a group gets them
again on its next read.

--from oldest starts a new group (or an ephemeral reader) at the oldest
message the broker still holds, on Kafka; RabbitMQ and memory keep no log
and refuse it.`,
		Example: `  brokerkit sub kafka://127.0.0.1:9092 orders
  brokerkit sub kafka://127.0.0.1:9092 orders --group audit --from oldest --count 100 --format json
  brokerkit sub amqp://guest:guest@127.0.0.1:5672/ orders --group billing --timeout 30s`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL, topic, err := urlAndTopic(c, args)
			if err != nil {
				return err
			}
			return runSub(c.Context(), c, rawURL, topic, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	fl.StringVarP(&f.group, "group", "g", "", "consumer group (Kafka group, RabbitMQ durable queue); default: none, an ephemeral reader")
	fl.StringVar(&f.from, "from", "newest", "where a new group starts: newest or oldest (Kafka only)")
	fl.IntVarP(&f.count, "count", "n", 0, "exit after N messages (0: until Ctrl-C)")
	fl.IntVarP(&f.concurrency, "concurrency", "c", 1, "messages handled at once (same key: one at a time)")
	fl.DurationVar(&f.timeout, "timeout", 0, "stop after this long; with --count, exit 7 if fewer arrived")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no 'subscribed' line and no summary on stderr")
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("from", cobra.FixedCompletions([]string{"newest", "oldest"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runSub(ctx context.Context, c *cobra.Command, rawURL, topic string, f subFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErr{fmt.Errorf("sub: --format %q: want text or json", f.format)}
	}
	var opts []transport.SubscribeOption
	switch f.from {
	case "newest":
	case "oldest":
		opts = append(opts, transport.WithStart(transport.StartOldest))
	default:
		return usageErr{fmt.Errorf("sub: --from %q: want newest or oldest", f.from)}
	}
	if f.group != "" {
		opts = append(opts, transport.WithGroup(f.group))
	}
	if f.count < 0 || f.concurrency < 1 {
		return usageErr{fmt.Errorf("sub: --count must not be negative, --concurrency at least 1")}
	}
	opts = append(opts, transport.WithConcurrency(f.concurrency))
	var timeout <-chan time.Time
	if f.timeout > 0 {
		t := time.NewTimer(f.timeout)
		defer t.Stop()
		timeout = t.C
	}
	sub, err := transport.OpenSubscriber(ctx, rawURL)
	if err != nil {
		return err
	}
	defer sub.Close()

	out, stderr := c.OutOrStdout(), c.ErrOrStderr()
	var (
		mu       sync.Mutex
		printed  int
		first    time.Time
		writeErr error
		reached  = make(chan struct{})
	)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	handler := func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if f.count > 0 && printed >= f.count {
			return errNotPrinted
		}
		var err error
		if f.format == "json" {
			err = enc.Encode(toJSON(m))
		} else {
			err = writeText(out, m)
		}
		if err != nil {
			// stdout is gone (a closed pipe): not printed, not acked.
			if writeErr == nil {
				writeErr = err
				close(reached)
			}
			return err
		}
		if printed == 0 {
			first = time.Now()
		}
		printed++
		if f.count > 0 && printed == f.count {
			close(reached)
		}
		return nil
	}
	start := time.Now()
	s, release, err := subscribe(ctx, rawURL, sub, topic, handler, opts...)
	if err != nil {
		return err
	}
	defer release()
	if !f.quiet {
		group := "no group"
		if f.group != "" {
			group = "group " + f.group
		}
		fmt.Fprintf(stderr, "brokerkit: subscribed to %s on %s (%s)\n", topic, showURL(rawURL), group)
	}
	var runErr error
	select {
	case <-ctx.Done(): // Ctrl-C: a normal end
	case <-reached:
	case <-s.Done():
		runErr = s.Err()
	case <-timeout:
		if f.count > 0 {
			runErr = timeoutErr{fmt.Errorf("sub: --timeout %v ran out", f.timeout)}
		}
	}
	if err := s.Close(); err != nil && runErr == nil {
		runErr = err
	}
	mu.Lock()
	n, firstAt, werr := printed, first, writeErr
	mu.Unlock()
	if !f.quiet {
		elapsed := time.Since(start)
		rate := 0.0
		if n > 0 {
			rate = float64(n) / time.Since(firstAt).Seconds()
		}
		fmt.Fprintf(stderr, "brokerkit: %d messages in %v (%.0f msg/s since the first)\n", n, elapsed.Round(time.Millisecond), rate)
	}
	if tErr := (timeoutErr{}); errors.As(runErr, &tErr) {
		return timeoutErr{fmt.Errorf("%w with %d of %d messages", runErr, n, f.count)}
	}
	if runErr == nil && werr != nil {
		runErr = fmt.Errorf("sub: writing to stdout: %w", werr)
	}
	return runErr
}
