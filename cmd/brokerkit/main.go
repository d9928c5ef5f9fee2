// Command brokerkit publishes, consumes, bridges and benchmarks messages on
// any broker brokerkit speaks (mem://, kafka://, amqp://), reads and purges
// the backlog of consumer groups, creates and deletes topics, and runs a local
// Kafka for development. `brokerkit --help` lists the commands; each has
// --help with examples. Documentation: docs/cli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	// Importing a backend registers its URL scheme.
	_ "github.com/brokerkit/brokerkit/amqp"
	_ "github.com/brokerkit/brokerkit/kafka"
	_ "github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

// EnvURL names the variable that gives the broker URL when a command is
// given none.
const EnvURL = "BROKERKIT_URL"

// Exit codes, documented in the root command's help and docs/cli.md.
const (
	exitOK           = 0
	exitFailure      = 1 // anything not listed below
	exitUsage        = 2 // bad command line: unknown flag, missing argument
	exitInvalid      = 3 // bad broker URL, unknown URL option, bad input
	exitUnavailable  = 4 // broker unreachable
	exitUnauthorized = 5 // login or permission refused
	exitNotConfirmed = 6 // a publish not confirmed by the broker
	exitTimeout      = 7 // --timeout ran out before the work was done
	exitUnsupported  = 8 // the backend lacks the capability (stat, purge, topic)
	exitNotFound     = 9 // no such topic, group or queue
)

const exitCodesHelp = `Exit codes:
  0  success (also after Ctrl-C ends sub, bridge, stat --watch or dev kafka)
  1  any other failure
  2  usage: unknown command or flag, wrong arguments
  3  invalid broker URL, unknown URL option or bad input
  4  broker unavailable: not reached or not confirming within --connect-timeout
  5  unauthorized: the broker refused the login or the operation
  6  not confirmed: the broker did not confirm some published messages
  7  timed out: --timeout ran out before the command finished its work
  8  unsupported: the backend cannot do this (stat, purge, topic)
  9  not found: no such topic, group or queue`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "brokerkit: %s\n", strings.TrimPrefix(redactErr(err), "brokerkit: "))
	return exitCode(err)
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "brokerkit",
		Short: "Publish, consume, bridge, benchmark and inspect messages on Kafka, RabbitMQ and in memory",
		Long: `brokerkit speaks every broker of the brokerkit library by URL:

  mem://NAME                           the in-process broker (one process only)
  kafka://host:9092,host2:9092?opt=v   Kafka (options: see the kafka package)
  amqp://user:pass@host:5672/vhost     RabbitMQ (amqps:// for TLS)

A command given no URL uses $` + EnvURL + `. Errors go to stderr and never
show a password.

` + exitCodesHelp,
		Example: `  brokerkit dev kafka &                          # a local Kafka on 127.0.0.1:9092
  brokerkit bench kafka://127.0.0.1:9092 -n 10000 --plot bench.png
  echo hello | brokerkit pub amqp://guest:guest@127.0.0.1:5672/ greetings
  brokerkit sub kafka://127.0.0.1:9092 orders --from oldest --count 10
  brokerkit bridge kafka://127.0.0.1:9092 orders amqp://guest:guest@127.0.0.1:5672/ orders
  brokerkit stat kafka://127.0.0.1:9092 orders --group billing     # consumer lag
  brokerkit purge amqp://guest:guest@127.0.0.1:5672/ orders --group billing
  brokerkit completion bash > /etc/bash_completion.d/brokerkit`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.PersistentFlags().DurationVar(&connectTimeout, "connect-timeout", 30*time.Second,
		"how long to try to reach a broker before giving up (exit 4)")
	root.AddCommand(newPubCmd(), newSubCmd(), newBridgeCmd(), newBenchCmd(), newDevCmd(), newDemoCmd(),
		newStatCmd(), newPurgeCmd(), newTopicCmd())
	return root
}

// connectTimeout bounds subscribing: the broker may be down, and the
// backends keep trying to reach it.
var connectTimeout time.Duration

// subscribe is Subscribe bounded by --connect-timeout. Its context is
// cancelled only on failure: the subscription lives until Close.
func subscribe(ctx context.Context, rawURL string, sub transport.Subscriber, topic string, h transport.Handler, opts ...transport.SubscribeOption) (*transport.Subscription, func(), error) {
	subCtx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(connectTimeout, cancel)
	s, err := sub.Subscribe(subCtx, topic, h, opts...)
	if !timer.Stop() && ctx.Err() == nil {
		// Cancelled at the deadline: a subscription made just then ends
		// with the context under the old context rule, so it is a failure.
		cancel()
		if err == nil && s != nil {
			_ = s.Close()
		}
		return nil, nil, unavailable(rawURL)
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return s, cancel, nil
}

// unavailable says that --connect-timeout ran out, with exit code 4.
func unavailable(rawURL string) error {
	return unavailableErr{fmt.Errorf("%w: not subscribed on %s within --connect-timeout %v (is the broker running?)",
		transport.ErrUnavailable, showURL(rawURL), connectTimeout)}
}

// publish is Publish bounded by --connect-timeout: the backends keep trying
// to reach a broker that is down.
func publish(ctx context.Context, rawURL string, pub transport.Publisher, topic string, msgs ...*transport.Message) error {
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	err := pub.Publish(pctx, topic, msgs...)
	if err != nil && pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return unavailableErr{fmt.Errorf("%s did not confirm within --connect-timeout %v (is the broker running?): %w",
			showURL(rawURL), connectTimeout, err)}
	}
	return err
}

// unavailableErr is a broker that could not be reached in time: exit code 4.
type unavailableErr struct{ error }

func (e unavailableErr) Unwrap() error { return e.error }

// usageErr is a command-line mistake: exit code 2.
type usageErr struct{ error }

func (e usageErr) Unwrap() error { return e.error }

// timeoutErr is a --timeout that ran out: exit code 7.
type timeoutErr struct{ error }

func (e timeoutErr) Unwrap() error { return e.error }

func exitCode(err error) int {
	var u usageErr
	if errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command") {
		return exitUsage
	}
	var t timeoutErr
	if errors.As(err, &t) {
		return exitTimeout
	}
	var ue unavailableErr
	if errors.As(err, &ue) {
		return exitUnavailable
	}
	// errors.ErrUnsupported, which transport.ErrUnsupported wraps: a
	// *transport.Error of CodeInvalid (an AMQP PRECONDITION_FAILED, say)
	// also matches transport.ErrUnsupported by its code.
	if errors.Is(err, errors.ErrUnsupported) {
		return exitUnsupported
	}
	switch transport.CodeOf(err) {
	case transport.CodeNotFound:
		return exitNotFound
	case transport.CodeInvalid:
		return exitInvalid
	case transport.CodeUnavailable:
		return exitUnavailable
	case transport.CodeUnauthorized:
		return exitUnauthorized
	case transport.CodeNotConfirmed:
		return exitNotConfirmed
	}
	var pe *transport.PublishError
	if errors.As(err, &pe) {
		return exitNotConfirmed
	}
	return exitFailure
}

// redactErr is the error's text with any password of the URLs given on the
// command line or in $BROKERKIT_URL replaced, should a client library have
// quoted one.
func redactErr(err error) string {
	s := err.Error()
	for _, pw := range passwords {
		if pw != "" {
			s = strings.ReplaceAll(s, pw, "xxxxx")
		}
	}
	return s
}

// passwords collects the passwords of the URLs the commands opened.
var passwords []string

// rangeArgs is cobra.RangeArgs with a usage error.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		check := cobra.RangeArgs(lo, hi)
		if lo == hi {
			check = cobra.ExactArgs(lo)
		}
		if err := check(c, args); err != nil {
			return usageErr{fmt.Errorf("%s: %w (see '%s --help')", c.Name(), err, c.CommandPath())}
		}
		return nil
	}
}

// openBoth opens a publisher and a subscriber on rawURL, for the commands
// that drive both ends; closeBoth closes them.
func openBoth(ctx context.Context, rawURL string) (transport.Publisher, transport.Subscriber, func(), error) {
	pub, err := transport.OpenPublisher(ctx, rawURL)
	if err != nil {
		return nil, nil, nil, err
	}
	sub, err := transport.OpenSubscriber(ctx, rawURL)
	if err != nil {
		pub.Close()
		return nil, nil, nil, err
	}
	return pub, sub, func() { sub.Close(); pub.Close() }, nil
}

// needGroup refuses a command that reads a group's backlog without --group.
func needGroup(c *cobra.Command, group string) error {
	if group == "" {
		return usageErr{fmt.Errorf("%s: --group is required: only a group has a backlog (see '%s --help')", c.Name(), c.CommandPath())}
	}
	return nil
}

// urlAndTopic splits [URL] TOPIC: with one argument the URL comes from
// $BROKERKIT_URL.
func urlAndTopic(c *cobra.Command, args []string) (string, string, error) {
	if len(args) == 2 {
		return noteURL(args[0]), args[1], nil
	}
	u := os.Getenv(EnvURL)
	if u == "" {
		return "", "", usageErr{fmt.Errorf("%s: no broker URL: give URL TOPIC, or set %s", c.Name(), EnvURL)}
	}
	return noteURL(u), args[0], nil
}

// optionalURL is [URL], defaulting to $BROKERKIT_URL then def.
func optionalURL(args []string, def string) string {
	if len(args) > 0 {
		return noteURL(args[0])
	}
	if u := os.Getenv(EnvURL); u != "" {
		return noteURL(u)
	}
	return def
}

// showURL is a URL for output: as given, unless it holds a password.
func showURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return transport.RedactString(raw)
	}
	if _, has := u.User.Password(); has {
		return u.Redacted()
	}
	return raw
}

func noteURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				passwords = append(passwords, rest[c+1:at])
			}
		}
	}
	return raw
}
