package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo [URL]",
		Short: "A self-contained tour: orders through retry, dead-letter, dedup and latency",
		Long: `demo runs a small order service on the in-memory broker (or on URL, such as
the Kafka of 'brokerkit dev kafka') and narrates what happens:

  - five orders are published, one of them twice with the same ID (as a
    producer that retried would), and one message that is not an order;
  - the handler runs inside middleware: the latency recorder, dedup
    (the second copy is acknowledged without running the handler),
    dead-letter (a permanent failure goes to orders.dlq) and retry (order-3's
    payment times out once and succeeds on the second try);
  - the poison message is shown arriving on the dead-letter topic, with the
    reason;
  - the latency table of the orders topic: transmission, processing, end to
    end.

It needs nothing installed and exits when the tour is over.`,
		Example: `  brokerkit demo
  brokerkit demo kafka://127.0.0.1:9092`,
		Args: rangeArgs(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL := "mem://"
			if len(args) == 1 {
				rawURL = noteURL(args[0])
			}
			return runDemo(c.Context(), c.OutOrStdout(), rawURL)
		},
	}
}

type order struct {
	ID   string `json:"id"`
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

type reachedKey struct{}

func runDemo(ctx context.Context, out io.Writer, rawURL string) error {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	topic := "orders"
	if rawURL == "mem://" {
		// A broker of its own: mem://NAME is shared within the process.
		rawURL = "mem://demo-" + suffix
	} else {
		topic = "demo-orders-" + suffix
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rawPub, sub, closeBoth, err := openBoth(ctx, rawURL)
	if err != nil {
		return err
	}
	defer closeBoth()
	pub := middleware.StampPublishTime(rawPub)

	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}

	rec, err := middleware.NewLatencyRecorder()
	if err != nil {
		return err
	}
	store, err := middleware.NewMemoryStore()
	if err != nil {
		return err
	}
	dedup, err := middleware.Dedup(store)
	if err != nil {
		return err
	}
	dlqTopic := topic + ".dlq"
	deadLetter, err := middleware.DeadLetter(rawPub, middleware.DeadLetterTopic(func(string) string { return dlqTopic }))
	if err != nil {
		return err
	}
	retries := 0
	retry, err := middleware.Retry(middleware.RetryMaxAttempts(3), middleware.RetryBackoff(5*time.Millisecond, 20*time.Millisecond),
		middleware.OnRetry(func(_ context.Context, m *transport.Message, attempt int, err error, wait time.Duration) {
			retries++
			say("  retry: %s failed (%v); try %d after a back-off", m.ID, err, attempt+1)
		}))
	if err != nil {
		return err
	}

	var (
		handled, skipped int
		events           = make(chan struct{}, 16)
		payTries         = map[string]int{}
	)
	// watch runs outside dedup, mark inside it: a delivery that never
	// reached mark was acknowledged by dedup as a duplicate.
	watch := func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			var reached bool
			err := next(context.WithValue(ctx, reachedKey{}, &reached), m)
			if err == nil && !reached {
				skipped++
				say("  dedup: %s was handled already; this copy is acknowledged and skipped", m.ID)
			}
			return err
		}
	}
	mark := func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			if p, ok := ctx.Value(reachedKey{}).(*bool); ok {
				*p = true
			}
			return next(ctx, m)
		}
	}
	handler := func(_ context.Context, m *transport.Message) error {
		var o order
		if err := json.Unmarshal(m.Payload, &o); err != nil {
			say("  %s is not an order (%v): a permanent failure, no retry", m.ID, err)
			return transport.Permanent(fmt.Errorf("not an order: %w", err))
		}
		if o.ID == "order-3" {
			payTries[o.ID]++
			if payTries[o.ID] == 1 {
				return errors.New("payment service timed out")
			}
		}
		handled++
		say("  handled %s: %d x %s", o.ID, o.Qty, o.Item)
		return nil
	}
	// settled runs outermost, so a delivery counts as done only once the
	// latency recorder has recorded it and the table below is complete.
	settled := func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			err := next(ctx, m)
			if err == nil {
				events <- struct{}{}
			}
			return err
		}
	}
	h := transport.Chain(handler, settled, rec.Middleware, watch, dedup, mark, deadLetter, retry)

	dead := make(chan *transport.Message, 4)
	dsub, err := sub.Subscribe(ctx, dlqTopic, func(_ context.Context, m *transport.Message) error {
		dead <- m
		return nil
	})
	if err != nil {
		return err
	}
	defer dsub.Close()
	// One handler at a time, so that the narration comes out in order.
	s, err := sub.Subscribe(ctx, topic, h, transport.WithConcurrency(1))
	if err != nil {
		return err
	}
	defer s.Close()

	say("brokerkit demo on %s, topic %q", showURL(rawURL), topic)
	orders := []order{{"order-1", "book", 2}, {"order-2", "lamp", 1}, {"order-3", "chair", 4}, {"order-4", "pen", 10}, {"order-5", "desk", 1}}
	var msgs []*transport.Message
	for _, o := range orders {
		b, _ := json.Marshal(o)
		msgs = append(msgs, &transport.Message{ID: o.ID, Key: "customer-7", Payload: b, Metadata: transport.Metadata{"content-type": "application/json"}})
		if o.ID == "order-2" {
			msgs = append(msgs, &transport.Message{ID: o.ID, Key: "customer-7", Payload: b, Metadata: transport.Metadata{"content-type": "application/json"}})
		}
	}
	msgs = append(msgs, &transport.Message{ID: "poison-1", Key: "customer-7", Payload: []byte("{not json")})
	say("\n1. publishing %d messages: 5 orders, order-2 twice with the same ID, and poison-1, which is not JSON", len(msgs))
	if err := pub.Publish(ctx, topic, msgs...); err != nil {
		return err
	}
	say("\n2. the subscriber (latency recorder, dedup, dead-letter, retry around the handler):")
	for range len(msgs) {
		select {
		case <-events:
		case <-ctx.Done():
			return fmt.Errorf("demo: the tour did not finish: %w", ctx.Err())
		}
	}
	var dm *transport.Message
	select {
	case dm = <-dead:
	case <-ctx.Done():
		return fmt.Errorf("demo: nothing reached the dead-letter topic: %w", ctx.Err())
	}
	say("\n3. the dead-letter topic %s got %s, payload %q", dlqTopic, dm.ID, dm.Payload)
	say("   reason: %s", dm.Metadata.Get(middleware.MetaDLQReason))
	say("   from topic %s", dm.Metadata.Get(middleware.MetaDLQTopic))

	say("\n4. %d messages delivered: %d orders handled, %d duplicate skipped, 1 dead-lettered, %d retry", len(msgs), handled, skipped, retries)

	lat := rec.Snapshot()[topic]
	say("\n5. latencies of topic %s (middleware.LatencyRecorder):", topic)
	mu.Lock()
	var b strings.Builder
	r := benchResult{Transmission: toLatency(lat.Transmission), Processing: toLatency(lat.Processing), EndToEnd: toLatency(lat.EndToEnd)}
	printLatencies(&b, r)
	fmt.Fprint(out, b.String())
	mu.Unlock()
	return nil
}
