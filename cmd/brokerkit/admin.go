package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/brokerkit/brokerkit/transport"
)

// The inspection and administration commands (stat, purge, topic) use the
// optional interfaces of package transport through a publisher: opening one
// subscribes to nothing and, on every backend, touches the broker only when
// a call needs it.

func newStatCmd() *cobra.Command {
	var (
		group  string
		asJSON bool
		watch  time.Duration
	)
	c := &cobra.Command{
		Use:   "stat [URL] TOPIC --group GROUP",
		Short: "Print the backlog of a consumer group: queue depth or consumer lag",
		Long: `stat prints what GROUP has yet to handle on TOPIC: its backlog.

  RabbitMQ  the group's queue: ready messages and consumers (AMQP cannot tell
            how many are delivered and not yet acked: "unknown")
  Kafka     consumer lag per partition (high watermark minus committed
            offset; a partition without a commit counts 0) and their total;
            consumers are the group's members
  memory    the group's queue: waiting and in flight, and subscriptions
            (mem:// lives in one process: another process sees nothing)

Kafka commits trail a consumer's acks by its commit interval, so the lag of
a running group may read a little high.

--json prints one JSON object; with --watch one a line. --watch repeats
every DURATION until Ctrl-C (exit 0) or a failed reading (its exit code),
one line per reading. A group or topic that
does not exist exits 9; a backend that cannot tell exits 8.`,
		Example: `  brokerkit stat amqp://guest:guest@127.0.0.1:5672/ orders --group billing
  brokerkit stat kafka://127.0.0.1:9092 orders --group billing --json
  brokerkit stat kafka://127.0.0.1:9092 orders --group billing --watch 2s`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL, topic, err := urlAndTopic(c, args)
			if err != nil {
				return err
			}
			if err := needGroup(c, group); err != nil {
				return err
			}
			if watch < 0 {
				return usageErr{fmt.Errorf("stat: --watch must not be negative")}
			}
			return runStat(c.Context(), c, rawURL, topic, group, asJSON, watch)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&group, "group", "g", "", "the consumer group (Kafka group, RabbitMQ queue of the group); required")
	fl.BoolVar(&asJSON, "json", false, "print JSON for programs")
	fl.DurationVarP(&watch, "watch", "w", 0, "repeat every `DURATION` until Ctrl-C")
	return c
}

// statJSON is a reading as `stat --json` prints it.
type statJSON struct {
	Time      time.Time `json:"time"`
	Topic     string    `json:"topic"`
	Group     string    `json:"group"`
	Backlog   int64     `json:"backlog"`
	Ready     int64     `json:"ready"`
	Unacked   *int64    `json:"unacked"` // null: the backend cannot tell
	Consumers int       `json:"consumers"`
	// Partitions: Kafka only.
	Partitions []partitionJSON `json:"partitions,omitempty"`
}

type partitionJSON struct {
	Partition int   `json:"partition"`
	End       int64 `json:"end"`
	Committed int64 `json:"committed"` // -1: no commit
	Lag       int64 `json:"lag"`
}

func runStat(ctx context.Context, c *cobra.Command, rawURL, topic, group string, asJSON bool, watch time.Duration) error {
	pub, err := transport.OpenPublisher(ctx, rawURL)
	if err != nil {
		return err
	}
	defer pub.Close()
	out := c.OutOrStdout()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var tick <-chan time.Time
	if watch > 0 {
		t := time.NewTicker(watch)
		defer t.Stop()
		tick = t.C
	}
	for {
		var st transport.GroupStats
		err := adminCall(ctx, rawURL, func(ctx context.Context) error {
			var err error
			st, err = transport.Stats(ctx, pub, topic, group)
			return err
		})
		if err != nil {
			if watch > 0 && ctx.Err() != nil {
				return nil // Ctrl-C during a reading
			}
			return err
		}
		now := time.Now()
		switch {
		case asJSON:
			err = enc.Encode(toStatJSON(now, st))
		case watch > 0:
			err = writeStatLine(out, now, st)
		default:
			err = writeStat(out, st)
		}
		if err != nil {
			return fmt.Errorf("stat: writing to stdout: %w", err)
		}
		if watch == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // Ctrl-C: a normal end
		case <-tick:
		}
	}
}

func toStatJSON(now time.Time, st transport.GroupStats) statJSON {
	j := statJSON{Time: now.UTC(), Topic: st.Topic, Group: st.Group, Backlog: st.Backlog,
		Ready: st.Ready, Consumers: st.Consumers}
	if st.Unacked >= 0 {
		u := st.Unacked
		j.Unacked = &u
	}
	for _, p := range st.Partitions {
		j.Partitions = append(j.Partitions, partitionJSON(p))
	}
	return j
}

func unackedText(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

// writeStat prints one reading for people: the backlog, then Kafka's
// partitions as a table with the total.
func writeStat(w io.Writer, st transport.GroupStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "topic\t%s\n", st.Topic)
	fmt.Fprintf(tw, "group\t%s\n", st.Group)
	fmt.Fprintf(tw, "backlog\t%d\n", st.Backlog)
	if st.Partitions == nil {
		// Kafka cannot tell ready from in flight: its lag is the backlog.
		fmt.Fprintf(tw, "ready\t%d\n", st.Ready)
		fmt.Fprintf(tw, "in flight\t%s\n", unackedText(st.Unacked))
	}
	fmt.Fprintf(tw, "consumers\t%d\n", st.Consumers)
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.Partitions == nil {
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\npartition\tend\tcommitted\tlag\t\n")
	for _, p := range st.Partitions {
		committed := fmt.Sprint(p.Committed)
		if p.Committed < 0 {
			committed = "-"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t\n", p.Partition, p.End, committed, p.Lag)
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t\n", st.Backlog)
	return tw.Flush()
}

// writeStatLine prints one reading of --watch on a line.
func writeStatLine(w io.Writer, now time.Time, st transport.GroupStats) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s backlog=%d", now.UTC().Format(time.RFC3339), st.Backlog)
	if st.Partitions == nil {
		fmt.Fprintf(&b, " ready=%d in-flight=%s", st.Ready, unackedText(st.Unacked))
	}
	fmt.Fprintf(&b, " consumers=%d", st.Consumers)
	for _, p := range st.Partitions {
		fmt.Fprintf(&b, " p%d=%d", p.Partition, p.Lag)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func newPurgeCmd() *cobra.Command {
	var (
		group string
		yes   bool
	)
	c := &cobra.Command{
		Use:   "purge [URL] TOPIC --group GROUP",
		Short: "Drop the backlog of a consumer group",
		Long: `purge drops the messages GROUP has not yet handled on TOPIC, and prints how
many it dropped (or that the broker did not say).

  RabbitMQ  queue.purge of the group's queue: ready messages go; those
            delivered and not yet acked stay
  Kafka     the group's committed offsets move to the end of every
            partition; refused (exit 3) while the group has live members,
            whose next commit would undo it
  memory    empties the group's queue (one process only)

On a terminal it shows the backlog and asks before it drops anything;
--yes skips the question. Without a terminal (a script, a pipe) it refuses
unless --yes is given (exit 2). Answering anything but y or yes drops
nothing (exit 1).`,
		Example: `  brokerkit purge amqp://guest:guest@127.0.0.1:5672/ orders --group billing
  brokerkit purge kafka://127.0.0.1:9092 orders --group billing --yes`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL, topic, err := urlAndTopic(c, args)
			if err != nil {
				return err
			}
			if err := needGroup(c, group); err != nil {
				return err
			}
			return runPurge(c.Context(), c, rawURL, topic, group, yes)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&group, "group", "g", "", "the consumer group whose backlog to drop; required")
	fl.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

func runPurge(ctx context.Context, c *cobra.Command, rawURL, topic, group string, yes bool) error {
	if !yes && !isTerminal(c.InOrStdin()) {
		return usageErr{fmt.Errorf("purge: not dropping the backlog of group %s on %s without confirmation: stdin is not a terminal; pass --yes", group, topic)}
	}
	pub, err := transport.OpenPublisher(ctx, rawURL)
	if err != nil {
		return err
	}
	defer pub.Close()
	if _, ok := pub.(transport.Purger); !ok {
		_, err := transport.Purge(ctx, pub, topic, group) // the ErrUnsupported error; drops nothing
		return err
	}
	if !yes {
		what := "the backlog"
		var st transport.GroupStats
		// The count is a courtesy: a backend may purge what it cannot
		// inspect (a Kafka group that never committed), so a failure here
		// only makes the question vaguer.
		if adminCall(ctx, rawURL, func(ctx context.Context) error {
			var err error
			st, err = transport.Stats(ctx, pub, topic, group)
			return err
		}) == nil {
			what = fmt.Sprintf("the %d message(s) of the backlog", st.Backlog)
		}
		q := fmt.Sprintf("Drop %s of group %s on %s at %s?", what, group, topic, showURL(rawURL))
		if err := confirm(ctx, c, q); err != nil {
			return err
		}
	}
	var n int64
	err = adminCall(ctx, rawURL, func(ctx context.Context) error {
		var err error
		n, err = transport.Purge(ctx, pub, topic, group)
		return err
	})
	if err != nil {
		return err
	}
	if n < 0 {
		fmt.Fprintf(c.OutOrStdout(), "purged group %s on %s: the broker did not say how many messages were dropped\n", group, topic)
	} else {
		fmt.Fprintf(c.OutOrStdout(), "dropped %d messages of group %s on %s\n", n, group, topic)
	}
	return nil
}

func newTopicCmd() *cobra.Command {
	topic := &cobra.Command{
		Use:   "topic",
		Short: "Create and delete topics",
		Long: `topic create and topic delete manage topics: Kafka topics, RabbitMQ
exchanges, memory topics (one process only).`,
	}
	var (
		spec transport.TopicSpec
		yes  bool
	)
	create := &cobra.Command{
		Use:   "create [URL] TOPIC",
		Short: "Create a topic (Kafka partitions and replication factor, RabbitMQ exchange type)",
		Long: `topic create creates TOPIC:

  Kafka     with --partitions and --replication-factor (default 1 and 1);
            an existing topic is left as it is
  RabbitMQ  a durable exchange of type --kind (default: the URL's exchange
            type, topic unless set); an existing exchange of another type
            is an error (exit 3)
  memory    registers the topic (one process only)

Options a backend has no use for are ignored, except --kind on Kafka.`,
		Example: `  brokerkit topic create kafka://127.0.0.1:9092 orders --partitions 6 --replication-factor 3
  brokerkit topic create amqp://guest:guest@127.0.0.1:5672/ orders --kind fanout`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL, name, err := urlAndTopic(c, args)
			if err != nil {
				return err
			}
			if spec.Partitions < 0 || spec.ReplicationFactor < 0 {
				return usageErr{fmt.Errorf("topic create: --partitions and --replication-factor must not be negative")}
			}
			return withPublisher(c.Context(), rawURL, func(pub transport.Publisher) error {
				err := adminCall(c.Context(), rawURL, func(ctx context.Context) error {
					return transport.CreateTopic(ctx, pub, name, spec)
				})
				if err == nil {
					fmt.Fprintf(c.OutOrStdout(), "created topic %s on %s\n", name, showURL(rawURL))
				}
				return err
			})
		},
	}
	fl := create.Flags()
	fl.IntVarP(&spec.Partitions, "partitions", "p", 0, "Kafka: number of partitions (default 1)")
	fl.IntVarP(&spec.ReplicationFactor, "replication-factor", "r", 0, "Kafka: replicas of each partition (default 1)")
	fl.StringVar(&spec.Kind, "kind", "", "RabbitMQ: exchange type: topic, direct, fanout or headers")
	_ = create.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"topic", "direct", "fanout", "headers"}, cobra.ShellCompDirectiveNoFileComp))

	del := &cobra.Command{
		Use:   "delete [URL] TOPIC",
		Short: "Delete a topic",
		Long: `topic delete deletes TOPIC:

  Kafka     the topic and all its messages; a missing topic exits 9
  RabbitMQ  the exchange; the groups' queues stay, with their messages, and
            receive nothing until the exchange is declared again
  memory    the topic and its groups' queues (one process only)

On a terminal it asks first; --yes skips the question. Without a terminal
it refuses unless --yes is given (exit 2).`,
		Example: `  brokerkit topic delete kafka://127.0.0.1:9092 orders
  brokerkit topic delete amqp://guest:guest@127.0.0.1:5672/ orders --yes`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL, name, err := urlAndTopic(c, args)
			if err != nil {
				return err
			}
			if !yes && !isTerminal(c.InOrStdin()) {
				return usageErr{fmt.Errorf("topic delete: not deleting %s without confirmation: stdin is not a terminal; pass --yes", name)}
			}
			return withPublisher(c.Context(), rawURL, func(pub transport.Publisher) error {
				if _, ok := pub.(transport.TopicAdmin); !ok {
					return transport.DeleteTopic(c.Context(), pub, name) // the ErrUnsupported error
				}
				if !yes {
					if err := confirm(c.Context(), c, fmt.Sprintf("Delete topic %s on %s?", name, showURL(rawURL))); err != nil {
						return err
					}
				}
				err := adminCall(c.Context(), rawURL, func(ctx context.Context) error {
					return transport.DeleteTopic(ctx, pub, name)
				})
				if err == nil {
					fmt.Fprintf(c.OutOrStdout(), "deleted topic %s on %s\n", name, showURL(rawURL))
				}
				return err
			})
		},
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	topic.AddCommand(create, del)
	return topic
}

func withPublisher(ctx context.Context, rawURL string, fn func(transport.Publisher) error) error {
	pub, err := transport.OpenPublisher(ctx, rawURL)
	if err != nil {
		return err
	}
	defer pub.Close()
	return fn(pub)
}

// adminCall runs one inspection or administration call bounded by
// --connect-timeout: the backends keep trying to reach a broker that is
// down.
func adminCall(ctx context.Context, rawURL string, fn func(ctx context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	err := fn(actx)
	if err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return unavailableErr{fmt.Errorf("%s did not answer within --connect-timeout %v (is the broker running?): %w",
			showURL(rawURL), connectTimeout, err)}
	}
	return err
}

// isTerminal reports whether r is a terminal a person can answer on.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// errAborted is a question answered no: nothing was changed.
var errAborted = errors.New("not confirmed: nothing was changed")

// confirm asks question on stderr and reads the answer from stdin: y or yes
// goes on; anything else, the end of input or Ctrl-C aborts.
func confirm(ctx context.Context, c *cobra.Command, question string) error {
	fmt.Fprintf(c.ErrOrStderr(), "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		// Left blocked on Ctrl-C: the process is about to exit.
		line, _ := bufio.NewReader(c.InOrStdin()).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(c.ErrOrStderr())
		return errAborted
	case a := <-answer:
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "y", "yes":
			return nil
		}
		return errAborted
	}
}
