package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

type benchFlags struct {
	count, size, publishers, concurrency, batch int
	rate                                        float64
	topic, plot, progress                       string
	jsonOut                                     bool
	work, timeout, interval                     time.Duration
}

// metaSeq numbers the bench's messages, to count each once.
const metaSeq = "bench-seq"

func newBenchCmd() *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "bench [URL]",
		Short: "Publish and consume N messages and report throughput and latencies",
		Long: `bench subscribes to a fresh topic, publishes --count messages of --size bytes
from --publishers goroutines (--batch messages per publish call), handles
them with --concurrency handlers, and reports:

  publish      messages confirmed a second, from the first publish to the
               last confirm
  consume      messages handled a second, from the first publish to the
               last message handled
  transmission publish to delivery (the handler chain receiving it)
  processing   the handler's own time (--work simulates some)
  end to end   publish to handled

each latency as p50, p90, p99, p99.9 and max (within 1.6%, from
middleware.LatencyRecorder). Publish times are stamped in metadata by
middleware.StampPublishTime on this machine's clock.

The URL defaults to $` + EnvURL + `, then mem://bench (the in-process broker:
the publisher and subscriber share it). A progress bar is drawn on stderr
when it is a terminal. --json prints the figures as one JSON object on
stdout; --plot FILE.png or FILE.svg draws the latency distribution and the
rate over time. Run it against two URLs with the same flags to compare
brokers; the figures are this machine's, at this moment.`,
		Example: `  brokerkit bench
  brokerkit bench kafka://127.0.0.1:9092 -n 100000 -s 1024 -p 4 -c 8 --plot kafka.png
  brokerkit bench amqp://guest:guest@127.0.0.1:5672/ --rate 2000 --json > rabbit.json
  brokerkit bench mem:// --work 1ms -c 16 --plot mem.svg`,
		Args: rangeArgs(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runBench(c.Context(), c, optionalURL(args, "mem://bench"), f)
		},
	}
	fl := c.Flags()
	fl.IntVarP(&f.count, "count", "n", 10000, "messages to publish")
	fl.IntVarP(&f.size, "size", "s", 100, "payload size in bytes")
	fl.IntVarP(&f.publishers, "publishers", "p", 4, "publishing goroutines")
	fl.IntVarP(&f.concurrency, "concurrency", "c", 4, "handlers running at once")
	fl.IntVarP(&f.batch, "batch", "b", 1, "messages per publish call")
	fl.Float64Var(&f.rate, "rate", 0, "publish at most this many messages a second in all (0: as fast as confirmed)")
	fl.DurationVar(&f.work, "work", 0, "simulated handler time per message")
	fl.StringVar(&f.topic, "topic", "", "topic to use (default: a fresh brokerkit-bench-<random>)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the results as JSON on stdout")
	fl.StringVar(&f.plot, "plot", "", "write latency distribution and rate over time to `FILE` (.png or .svg)")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (on a terminal), always or never")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up after this long (exit 7)")
	fl.DurationVar(&f.interval, "interval", 100*time.Millisecond, "sampling interval of the rate over time")
	_ = c.MarkFlagFilename("plot", "png", "svg")
	_ = c.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// benchResult is what --json prints.
type benchResult struct {
	URL         string  `json:"url"`
	Topic       string  `json:"topic"`
	Messages    int     `json:"messages"`
	Size        int     `json:"size"`
	Publishers  int     `json:"publishers"`
	Concurrency int     `json:"concurrency"`
	Batch       int     `json:"batch"`
	Rate        float64 `json:"rate_limit,omitempty"`
	Work        int64   `json:"work_ns,omitempty"`

	Published  int64 `json:"published"`
	Consumed   int64 `json:"consumed"`   // distinct messages handled
	Deliveries int64 `json:"deliveries"` // handler calls, redeliveries included
	Duplicates int64 `json:"duplicates"`

	Publish phase `json:"publish"`
	Consume phase `json:"consume"`

	Transmission latency `json:"transmission"`
	Processing   latency `json:"processing"`
	EndToEnd     latency `json:"end_to_end"`

	Series []sample `json:"series"`
}

type phase struct {
	Seconds      float64 `json:"seconds"`
	MsgsPerSec   float64 `json:"msgs_per_sec"`
	MBytesPerSec float64 `json:"mbytes_per_sec"`
}

type latency struct {
	Count  uint64 `json:"count"`
	MeanNs int64  `json:"mean_ns"`
	P50Ns  int64  `json:"p50_ns"`
	P90Ns  int64  `json:"p90_ns"`
	P99Ns  int64  `json:"p99_ns"`
	P999Ns int64  `json:"p999_ns"`
	MaxNs  int64  `json:"max_ns"`
}

// sample is the cumulative counts at a moment, for the rate over time.
type sample struct {
	Seconds   float64 `json:"t"`
	Published int64   `json:"published"`
	Consumed  int64   `json:"consumed"`
}

func toLatency(s middleware.Summary) latency {
	return latency{Count: s.Count, MeanNs: int64(s.Mean), P50Ns: int64(s.P50), P90Ns: int64(s.P90),
		P99Ns: int64(s.P99), P999Ns: int64(s.P999), MaxNs: int64(s.Max)}
}

// samples keeps each message's three latencies for the plot, by sequence.
type samples struct{ tx, proc, e2e []int64 }

func runBench(ctx context.Context, c *cobra.Command, rawURL string, f benchFlags) error {
	if f.count < 1 || f.size < 0 || f.publishers < 1 || f.concurrency < 1 || f.batch < 1 || f.rate < 0 || f.interval <= 0 {
		return usageErr{fmt.Errorf("bench: --count, --publishers, --concurrency and --batch must be at least 1, --size and --rate not negative")}
	}
	if f.plot != "" {
		if _, err := plotFormat(f.plot); err != nil {
			return err
		}
	}
	var showBar bool
	switch f.progress {
	case "always":
		showBar = true
	case "never":
	case "auto":
		file, ok := c.ErrOrStderr().(*os.File)
		showBar = ok && term.IsTerminal(int(file.Fd()))
	default:
		return usageErr{fmt.Errorf("bench: --progress %q: want auto, always or never", f.progress)}
	}
	topic := f.topic
	if topic == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		topic = "brokerkit-bench-" + hex.EncodeToString(b[:])
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	rawPub, sub, closeBoth, err := openBoth(ctx, rawURL)
	if err != nil {
		return err
	}
	defer closeBoth()
	pub := middleware.StampPublishTime(rawPub)

	rec, err := middleware.NewLatencyRecorder()
	if err != nil {
		return err
	}
	var smp *samples
	if f.plot != "" {
		smp = &samples{tx: make([]int64, f.count), proc: make([]int64, f.count), e2e: make([]int64, f.count)}
	}
	var (
		published, consumed, deliveries, dups atomic.Int64
		seen                                  = make([]atomic.Bool, f.count)
		allIn                                 = make(chan struct{})
		lastHandled                           atomic.Int64 // ns since start
		start                                 time.Time
	)
	handler := func(ctx context.Context, m *transport.Message) error {
		t0 := time.Now()
		if f.work > 0 {
			sleep(ctx, f.work)
		}
		t1 := time.Now()
		deliveries.Add(1)
		seq, err := strconv.Atoi(m.Metadata.Get(metaSeq))
		if err != nil || seq < 0 || seq >= f.count {
			return nil // not ours: a leftover on a reused --topic
		}
		if seen[seq].Swap(true) {
			dups.Add(1)
			return nil
		}
		if smp != nil {
			if pt, ok := middleware.PublishTime(m); ok {
				smp.tx[seq], smp.e2e[seq] = int64(t0.Sub(pt)), int64(t1.Sub(pt))
			}
			smp.proc[seq] = int64(t1.Sub(t0))
		}
		for now := int64(time.Since(start)); ; {
			last := lastHandled.Load()
			if now <= last || lastHandled.CompareAndSwap(last, now) {
				break
			}
		}
		if consumed.Add(1) == int64(f.count) {
			close(allIn)
		}
		return nil
	}
	h := transport.Chain(handler, precisePublishTime, rec.Middleware)
	s, release, err := subscribe(ctx, rawURL, sub, topic, h, transport.WithConcurrency(f.concurrency))
	if err != nil {
		return err
	}
	defer release()
	defer s.Close()

	var bar *progressbar.ProgressBar
	if showBar {
		bar = progressbar.NewOptions64(int64(f.count),
			progressbar.OptionSetWriter(c.ErrOrStderr()),
			progressbar.OptionSetDescription("consumed"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}

	payload := make([]byte, f.size)
	_, _ = rand.Read(payload)
	var limiter *middleware.RateLimiter
	if f.rate > 0 {
		if limiter, err = middleware.NewRateLimiter(f.rate, max(f.batch, int(f.rate/100))); err != nil {
			return err
		}
	}

	start = time.Now()
	var series []sample
	var seriesMu sync.Mutex
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(f.interval)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			n := consumed.Load()
			seriesMu.Lock()
			series = append(series, sample{Seconds: time.Since(start).Seconds(), Published: published.Load(), Consumed: n})
			seriesMu.Unlock()
			if bar != nil {
				_ = bar.Set64(n)
			}
		}
	}()

	var next atomic.Int64
	var pubWG sync.WaitGroup
	pubErr := make(chan error, f.publishers)
	var lastConfirm atomic.Int64
	for range f.publishers {
		pubWG.Add(1)
		go func() {
			defer pubWG.Done()
			for {
				first := next.Add(int64(f.batch)) - int64(f.batch)
				if first >= int64(f.count) {
					return
				}
				n := min(int64(f.batch), int64(f.count)-first)
				msgs := make([]*transport.Message, n)
				for i := range msgs {
					msgs[i] = &transport.Message{Payload: payload, Metadata: transport.Metadata{metaSeq: strconv.FormatInt(first+int64(i), 10)}}
				}
				if limiter != nil {
					if err := limiter.Wait(ctx, len(msgs)); err != nil {
						pubErr <- err
						return
					}
				}
				if err := publish(ctx, rawURL, pub, topic, msgs...); err != nil {
					pubErr <- err
					return
				}
				published.Add(n)
				lastConfirm.Store(int64(time.Since(start)))
			}
		}()
	}
	pubWG.Wait()
	var runErr error
	select {
	case err := <-pubErr:
		runErr = err
	default:
		select {
		case <-allIn:
		case <-s.Done():
			runErr = s.Err()
		case <-ctx.Done():
			runErr = ctx.Err()
		}
	}
	close(stopSampling)
	<-sampled
	if bar != nil {
		_ = bar.Set64(consumed.Load())
		_ = bar.Finish()
	}
	closeErr := s.Close()
	if runErr == nil {
		runErr = closeErr
	}
	if runErr != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return timeoutErr{fmt.Errorf("bench: --timeout %v ran out: %d published, %d consumed of %d", f.timeout, published.Load(), consumed.Load(), f.count)}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("bench: interrupted: %d published, %d consumed of %d", published.Load(), consumed.Load(), f.count)
		}
		return runErr
	}
	series = append(series, sample{Seconds: time.Since(start).Seconds(), Published: published.Load(), Consumed: consumed.Load()})

	lat := rec.Snapshot()[topic]
	res := benchResult{
		URL: showURL(rawURL), Topic: topic, Messages: f.count, Size: f.size,
		Publishers: f.publishers, Concurrency: f.concurrency, Batch: f.batch, Rate: f.rate, Work: int64(f.work),
		Published: published.Load(), Consumed: consumed.Load(), Deliveries: deliveries.Load(), Duplicates: dups.Load(),
		Publish:      mkPhase(f, published.Load(), time.Duration(lastConfirm.Load())),
		Consume:      mkPhase(f, consumed.Load(), time.Duration(lastHandled.Load())),
		Transmission: toLatency(lat.Transmission),
		Processing:   toLatency(lat.Processing),
		EndToEnd:     toLatency(lat.EndToEnd),
		Series:       series,
	}
	out := c.OutOrStdout()
	if f.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printBench(out, res)
	}
	if f.plot != "" {
		if err := writePlot(f.plot, res, smp); err != nil {
			return err
		}
		if !f.jsonOut {
			fmt.Fprintf(out, "plot written to %s\n", f.plot)
		}
	}
	return nil
}

func mkPhase(f benchFlags, n int64, d time.Duration) phase {
	p := phase{Seconds: d.Seconds()}
	if d > 0 {
		p.MsgsPerSec = float64(n) / d.Seconds()
		p.MBytesPerSec = p.MsgsPerSec * float64(f.size) / 1e6
	}
	return p
}

// precisePublishTime takes the publish time from the metadata that
// StampPublishTime wrote, in nanoseconds, over the broker's own timestamp,
// which Kafka keeps in milliseconds and AMQP in seconds.
func precisePublishTime(next transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) error {
		if s := m.Metadata.Get(middleware.MetaPublishedAt); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				m.PublishedAt = t
			}
		}
		return next(ctx, m)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func printBench(w io.Writer, r benchResult) {
	fmt.Fprintf(w, "bench %s, topic %s\n", r.URL, r.Topic)
	fmt.Fprintf(w, "%d messages of %d bytes, %d publisher(s), batch %d, concurrency %d", r.Messages, r.Size, r.Publishers, r.Batch, r.Concurrency)
	if r.Rate > 0 {
		fmt.Fprintf(w, ", at most %.0f msg/s", r.Rate)
	}
	if r.Work > 0 {
		fmt.Fprintf(w, ", work %v", time.Duration(r.Work))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tmessages\tseconds\tmsg/s\tMB/s\t\n")
	fmt.Fprintf(tw, "publish\t%d\t%.3f\t%.0f\t%.2f\t\n", r.Published, r.Publish.Seconds, r.Publish.MsgsPerSec, r.Publish.MBytesPerSec)
	fmt.Fprintf(tw, "consume\t%d\t%.3f\t%.0f\t%.2f\t\n", r.Consumed, r.Consume.Seconds, r.Consume.MsgsPerSec, r.Consume.MBytesPerSec)
	tw.Flush()
	if r.Duplicates > 0 {
		fmt.Fprintf(w, "%d duplicate deliveries\n", r.Duplicates)
	}
	fmt.Fprintln(w)
	printLatencies(w, r)
}

func printLatencies(w io.Writer, r benchResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "latency\tn\tp50\tp90\tp99\tp99.9\tmax\tmean\t\n")
	for _, row := range []struct {
		name string
		l    latency
	}{{"transmission", r.Transmission}, {"processing", r.Processing}, {"end to end", r.EndToEnd}} {
		d := func(ns int64) string { return roundDur(time.Duration(ns)).String() }
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, row.l.Count, d(row.l.P50Ns), d(row.l.P90Ns), d(row.l.P99Ns), d(row.l.P999Ns), d(row.l.MaxNs), d(row.l.MeanNs))
	}
	tw.Flush()
}

// roundDur keeps three significant digits or so.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond)
	}
	return d
}
