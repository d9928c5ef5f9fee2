package tracing

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokerkit/brokerkit/transport"
)

// instrumentation names the tracer and meter.
const instrumentation = "github.com/brokerkit/brokerkit/middleware/tracing"

// Option configures Middleware and PublisherMiddleware.
type Option func(*config) error

type config struct {
	tp     trace.TracerProvider
	mp     metric.MeterProvider
	prop   propagation.TextMapPropagator
	system string
	group  string
}

// WithTracerProvider sets where spans go. Default: the global provider
// (otel.GetTracerProvider), which records nothing until one is set.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return transport.Invalidf("tracing.WithTracerProvider: nil provider")
		}
		c.tp = tp
		return nil
	}
}

// WithMeterProvider sets where the latency histograms go. Default: the
// global provider (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return transport.Invalidf("tracing.WithMeterProvider: nil provider")
		}
		c.mp = mp
		return nil
	}
}

// WithPropagator sets how trace context is written into and read from
// message metadata. Default: the global propagator (otel.GetTextMapPropagator)
// when one was set before the middleware is built, W3C Trace Context
// (propagation.TraceContext) otherwise, since the global default propagates
// nothing.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) error {
		if p == nil {
			return transport.Invalidf("tracing.WithPropagator: nil propagator")
		}
		c.prop = p
		return nil
	}
}

// WithSystem names the broker in the messaging.system attribute: "kafka",
// "rabbitmq", or "memory". Default: none, the attribute is left out.
func WithSystem(name string) Option {
	return func(c *config) error {
		c.system = name
		return nil
	}
}

// WithGroup names the consumer group of the subscription the handler serves,
// in the messaging.consumer.group.name attribute. A handler cannot learn it
// from the message. Default: none, the attribute is left out.
func WithGroup(name string) Option {
	return func(c *config) error {
		c.group = name
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{}
	for _, o := range opts {
		if o == nil {
			return nil, transport.Invalidf("tracing: nil Option")
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
		if len(c.prop.Fields()) == 0 {
			c.prop = propagation.TraceContext{}
		}
	}
	return c, nil
}
