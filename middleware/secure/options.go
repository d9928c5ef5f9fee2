package secure

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/brokerkit/brokerkit/transport"
)

// instrumentation names the meter.
const instrumentation = "github.com/brokerkit/brokerkit/middleware/secure"

// FailureCounter is the name of the OpenTelemetry counter of refused
// messages, with attributes brokerkit.secure.op ("open", "verify"),
// brokerkit.secure.reason (a Reason) and messaging.destination.name.
const FailureCounter = "brokerkit.secure.failures"

// Option configures the middleware. Each says which constructors take it;
// given to another, it makes the constructor return an ErrInvalid error.
type Option func(*config) error

type role int

const (
	roleSeal role = 1 << iota
	roleOpen
	roleSign
	roleVerify
)

type config struct {
	role      role
	logger    *slog.Logger
	counter   metric.Int64Counter
	onFailure func(context.Context, *Error)
	// Open and Verify: hand on messages without the envelope, during a
	// rollout.
	acceptBare bool
	// Seal only.
	encNames  []string // headers to encrypt
	encAll    bool     // encrypt every header but keepClear, the envelope's and trace context
	keepClear map[string]bool
	nonce     io.Reader
}

func newConfig(r role, opts []Option) (*config, error) {
	c := &config{role: r, nonce: rand.Reader}
	for _, o := range opts {
		if o == nil {
			return nil, transport.Invalidf("secure: nil option")
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *config) only(name string, allowed role) error {
	if c.role&allowed == 0 {
		return transport.Invalidf("secure: option %s does not apply here", name)
	}
	return nil
}

// WithLogger logs each refused message at Warn level with its topic, ID,
// key ID and reason; never key material. Default: no logging.
// For Open and Verify.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if err := c.only("WithLogger", roleOpen|roleVerify); err != nil {
			return err
		}
		if l == nil {
			return transport.Invalidf("secure: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithMeterProvider counts refused messages in the FailureCounter counter of
// mp. Default: not counted in OpenTelemetry. For Open and Verify.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if err := c.only("WithMeterProvider", roleOpen|roleVerify); err != nil {
			return err
		}
		if mp == nil {
			return transport.Invalidf("secure: WithMeterProvider: nil provider")
		}
		ctr, err := mp.Meter(instrumentation).Int64Counter(FailureCounter,
			metric.WithDescription("Messages refused because they could not be opened or verified"),
			metric.WithUnit("{message}"))
		if err != nil {
			return err
		}
		c.counter = ctr
		return nil
	}
}

// OnFailure calls f for each refused message, before the error goes back
// to the outer middleware: a counter of one's own, an alert. f must be
// safe for concurrent use. Default: none. For Open and Verify.
func OnFailure(f func(ctx context.Context, err *Error)) Option {
	return func(c *config) error {
		if err := c.only("OnFailure", roleOpen|roleVerify); err != nil {
			return err
		}
		if f == nil {
			return transport.Invalidf("secure: OnFailure: nil function")
		}
		c.onFailure = f
		return nil
	}
}

// AcceptUnprotected makes Open hand on messages that were not sealed (no
// bk-enc header), and Verify messages that were not signed (no bk-sig
// header), unchanged, instead of refusing them. It is for rolling the
// middleware out: consumers first, with this option, then producers; then
// remove the option. While it is set, anyone may publish messages in clear
// or unsigned. A message that carries an envelope is still opened or
// verified, and refused when that fails. Default: refused. For Open and
// Verify.
func AcceptUnprotected() Option {
	return func(c *config) error {
		if err := c.only("AcceptUnprotected", roleOpen|roleVerify); err != nil {
			return err
		}
		c.acceptBare = true
		return nil
	}
}

// EncryptMetadata encrypts the named headers too, when a message has them:
// they travel in HeaderEncMetadata and Open puts them back. Default: only
// the payload is encrypted. For Seal.
func EncryptMetadata(names ...string) Option {
	return func(c *config) error {
		if err := c.only("EncryptMetadata", roleSeal); err != nil {
			return err
		}
		if c.encAll {
			return transport.Invalidf("secure: EncryptMetadata and EncryptAllMetadata exclude each other")
		}
		for _, n := range names {
			if isEncHeader(n) || isSigHeader(n) {
				return transport.Invalidf("secure: EncryptMetadata: %q is an envelope header", n)
			}
		}
		c.encNames = append(c.encNames, names...)
		return nil
	}
}

// EncryptAllMetadata encrypts every header except keepClear, the
// envelope's own (bk-*), and W3C trace context (traceparent, tracestate,
// baggage), which tracing middleware outside Open must read. Default: only
// the payload is encrypted. For Seal.
func EncryptAllMetadata(keepClear ...string) Option {
	return func(c *config) error {
		if err := c.only("EncryptAllMetadata", roleSeal); err != nil {
			return err
		}
		if len(c.encNames) > 0 {
			return transport.Invalidf("secure: EncryptMetadata and EncryptAllMetadata exclude each other")
		}
		c.encAll = true
		c.keepClear = map[string]bool{}
		for _, n := range keepClear {
			c.keepClear[n] = true
		}
		return nil
	}
}

// encrypts reports whether Seal encrypts the header k.
func (c *config) encrypts(k string) bool {
	if isEncHeader(k) || isSigHeader(k) {
		return false
	}
	if c.encAll {
		return !c.keepClear[k] && !isTraceHeader(k)
	}
	for _, n := range c.encNames {
		if n == k {
			return true
		}
	}
	return false
}

// fail reports a refused message to the hooks and returns the error the
// handler middleware hand back: Permanent, so it is never retried.
func (c *config) fail(ctx context.Context, e *Error) error {
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "secure: message refused",
			slog.String("op", e.Op), slog.String("reason", string(e.Reason)),
			slog.String("topic", sanitize(e.Topic)), slog.String("id", sanitize(e.ID)),
			slog.String("key_id", sanitize(e.KeyID)), slog.String("detail", e.Detail))
	}
	if c.counter != nil {
		c.counter.Add(ctx, 1, metric.WithAttributes(
			attribute.String("brokerkit.secure.op", e.Op),
			attribute.String("brokerkit.secure.reason", string(e.Reason)),
			attribute.String("messaging.destination.name", e.Topic)))
	}
	if c.onFailure != nil {
		c.onFailure(ctx, e)
	}
	return transport.Permanent(e)
}
