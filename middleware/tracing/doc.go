// Package tracing traces messages with OpenTelemetry from publish to handler
// and records their latencies as OpenTelemetry histograms.
//
// PublisherMiddleware wraps a transport.Publisher: each message gets a
// producer span, whose trace context goes into the message's metadata (W3C
// "traceparent"/"tracestate" by default), and a publish-time stamp.
// Middleware wraps a transport.Handler: it continues the trace in a consumer
// span whose parent is the producer's span, and records the transmission,
// processing and end-to-end latencies.
//
//	pubMW, err := tracing.PublisherMiddleware(tracing.WithSystem("kafka"))
//	pub = transport.ChainPublisher(pub, pubMW)
//	mw, err := tracing.Middleware(tracing.WithSystem("kafka"), tracing.WithGroup("billing"))
//	sub.Subscribe(ctx, "orders", transport.Chain(handle, mw), transport.WithGroup("billing"))
//
// Providers and propagator default to the OpenTelemetry globals; see the
// options. Metadata survives the trip on every backend, so this works on all
// of them, and across them.
//
// # Delivery
//
// Tracing changes nothing about delivery: the handler's error is returned as
// it is. Every delivery, redeliveries included, is a consumer span of its own
// under the same producer span.
//
// # Errors
//
// Middleware and PublisherMiddleware return a transport.ErrInvalid error for
// a nil option, and the meter's error when an instrument cannot be made.
//
// # Clock skew
//
// The publish time comes from the publisher's clock (or the broker's), the
// receive time from the consumer's. Across machines, transmission and end to
// end latency include the skew between the two clocks; negative values are
// recorded as 0. Keep the clocks synchronised (NTP, chrony) and read these
// histograms with that error in mind; processing latency is always measured
// on one clock.
package tracing
