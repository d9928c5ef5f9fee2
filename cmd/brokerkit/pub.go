package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/transport"
)

type pubFlags struct {
	file, format, key, payload string
	headers                    []string
	count, batch               int
	rate                       float64
	timeout                    time.Duration
	quiet                      bool
}

func newPubCmd() *cobra.Command {
	var f pubFlags
	c := &cobra.Command{
		Use:   "pub [URL] TOPIC",
		Short: "Publish each line of stdin (or a file, or generated messages) to a topic",
		Long: `pub publishes each line of stdin, or of --file, as one message, and prints
how many the broker confirmed. With --format json each line is a JSON object:

  {"id": "...", "key": "...", "metadata": {"name": "value"}, "payload": "text"}

with "payload_base64" instead of "payload" for binary data; that is what
'brokerkit sub --format json' prints, so sub's output can be published again.
With --count N it publishes N generated messages instead (--payload, or
"message <i>"), at most --rate a second.

A message is confirmed once the broker took it (Kafka: acks from the
in-sync replicas; RabbitMQ: publisher confirm; memory: stored). If any is
not, pub names them on stderr and exits 6 (4 when the broker cannot be
reached, 5 when it refused the login).`,
		Example: `  echo hello | brokerkit pub mem:// greetings
  brokerkit pub kafka://127.0.0.1:9092 orders --file orders.txt --key customer-7 -H source=cli
  brokerkit sub kafka://127.0.0.1:9092 orders --format json --count 10 | brokerkit pub amqp://guest:guest@127.0.0.1:5672/ orders --format json
  BROKERKIT_URL=kafka://127.0.0.1:9092 brokerkit pub load --count 100000 --rate 5000`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			rawURL, topic, err := urlAndTopic(c, args)
			if err != nil {
				return err
			}
			return runPub(c.Context(), c, rawURL, topic, f)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "-", "read messages from `FILE` (- for stdin)")
	fl.StringVar(&f.format, "format", "text", "input format: text (a line is a payload) or json (a line is a message)")
	fl.StringVarP(&f.key, "key", "k", "", "key of every message (JSON messages may set their own)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "metadata `name=value` on every message (repeatable)")
	fl.IntVarP(&f.count, "count", "n", 0, "publish N generated messages instead of reading input")
	fl.StringVar(&f.payload, "payload", "", "payload of generated messages (default \"message <i>\")")
	fl.Float64Var(&f.rate, "rate", 0, "at most this many messages a second (0: as fast as confirmed)")
	fl.IntVar(&f.batch, "batch", 100, "at most this many messages per publish call")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up after this long (exit 7); 0: no limit")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print nothing on success")
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runPub(ctx context.Context, c *cobra.Command, rawURL, topic string, f pubFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErr{fmt.Errorf("pub: --format %q: want text or json", f.format)}
	}
	if f.batch < 1 || f.count < 0 || f.rate < 0 {
		return usageErr{fmt.Errorf("pub: --batch must be at least 1, --count and --rate not negative")}
	}
	headers, err := parseHeaders(f.headers)
	if err != nil {
		return err
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	pub, err := transport.OpenPublisher(ctx, rawURL)
	if err != nil {
		return err
	}
	defer pub.Close()

	var limiter *middleware.RateLimiter
	if f.rate > 0 {
		burst := max(1, int(f.rate/10))
		f.batch = min(f.batch, burst)
		if limiter, err = middleware.NewRateLimiter(f.rate, burst); err != nil {
			return err
		}
	}

	msgs := make(chan *transport.Message, f.batch)
	readErr := make(chan error, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		defer close(msgs)
		readErr <- produce(readCtx, c.InOrStdin(), f, msgs)
	}()

	start := time.Now()
	var confirmed int
	var failed []transport.FailedMessage
	var pubErr error
	batch := make([]*transport.Message, 0, f.batch)
	for m := range msgs {
		batch = append(batch[:0], m)
	fill:
		for len(batch) < f.batch {
			select {
			case m, ok := <-msgs:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		for _, m := range batch {
			if m.Key == "" {
				m.Key = f.key
			}
			for k, v := range headers {
				if _, set := m.Metadata[k]; !set {
					m.SetMetadata(k, v)
				}
			}
		}
		if limiter != nil {
			if err := limiter.Wait(ctx, len(batch)); err != nil {
				pubErr = err
				break
			}
		}
		err := publish(ctx, rawURL, pub, topic, batch...)
		if err == nil {
			confirmed += len(batch)
			continue
		}
		pubErr = err
		var pe *transport.PublishError
		if errors.As(err, &pe) {
			confirmed += len(batch) - len(pe.Failed)
			failed = append(failed, pe.Failed...)
		} else {
			for i, m := range batch {
				failed = append(failed, transport.FailedMessage{Index: i, ID: m.ID, Err: err})
			}
		}
		break // the broker refuses: more would fail the same way
	}
	stopReading()
	for range msgs { // let the reader end
	}
	elapsed := time.Since(start)
	if err := <-readErr; err != nil && pubErr == nil && !errors.Is(err, context.Canceled) {
		pubErr = err
	}
	if !f.quiet || pubErr != nil {
		fmt.Fprintf(c.OutOrStdout(), "confirmed %d messages to %s in %v\n", confirmed, topic, elapsed.Round(time.Millisecond))
	}
	if pubErr == nil {
		return nil
	}
	if len(failed) > 0 {
		w := c.ErrOrStderr()
		fmt.Fprintf(w, "brokerkit: %d message(s) not confirmed:\n", len(failed))
		for i, fm := range failed {
			if i == 10 {
				fmt.Fprintf(w, "  ... and %d more\n", len(failed)-i)
				break
			}
			fmt.Fprintf(w, "  id %s\n", fm.ID)
		}
	}
	if errors.Is(pubErr, context.DeadlineExceeded) && f.timeout > 0 {
		return timeoutErr{fmt.Errorf("pub: --timeout %v ran out after %d confirmed", f.timeout, confirmed)}
	}
	return pubErr
}

// produce sends the messages to publish: generated ones, or one per line of
// the input.
func produce(ctx context.Context, stdin io.Reader, f pubFlags, out chan<- *transport.Message) error {
	send := func(m *transport.Message) error {
		select {
		case out <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.count > 0 {
		for i := range f.count {
			p := f.payload
			if p == "" {
				p = fmt.Sprintf("message %d", i)
			}
			if err := send(&transport.Message{Payload: []byte(p)}); err != nil {
				return err
			}
		}
		return nil
	}
	in := stdin
	if f.file != "-" {
		file, err := os.Open(f.file)
		if err != nil {
			return transport.Invalidf("pub: %v", err)
		}
		defer file.Close()
		in = file
	}
	r := bufio.NewReaderSize(in, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 || err == nil {
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			m := &transport.Message{Payload: line}
			if f.format == "json" {
				if len(strings.TrimSpace(string(line))) == 0 {
					continue
				}
				var jerr error
				if m, jerr = fromJSON(line); jerr != nil {
					return fmt.Errorf("line %d: %w", n, jerr)
				}
			}
			if serr := send(m); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
