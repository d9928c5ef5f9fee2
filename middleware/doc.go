// Package middleware holds brokerkit's handler middleware
// (transport.Middleware, func(Handler) Handler) and publisher middleware
// (transport.PublisherMiddleware, func(Publisher) Publisher). They work on
// every backend, since they see only transport's types.
//
//   - Retry: in-process retries with jittered exponential backoff.
//   - DeadLetter: moves a message that keeps failing to a dead-letter topic.
//   - Dedup: handles each message ID once, with a Store (MemoryStore here,
//     a Redis store in middleware/redisstore).
//   - Recoverer: a panic becomes a *transport.PanicError that outer
//     middleware see.
//   - Timeout: a deadline per handling.
//   - CorrelationID and CorrelatePublisher: a correlation ID carried from a
//     consumed message to the messages its handler publishes.
//   - ConcurrencyLimiter and RateLimiter: limits shared across subscriptions.
//   - Logging: one slog record per handling.
//   - LatencyRecorder and StampPublishTime: transmission, processing and
//     end-to-end latency percentiles per topic, without OpenTelemetry.
//
// OpenTelemetry tracing and metrics live in middleware/tracing, so that this
// package needs nothing beyond the standard library and transport.
//
// Everything passed to transport.Chain is a transport.Middleware, got one of
// three ways, by what the middleware needs: one without settings is a value
// (Recoverer, CorrelationID); one with settings comes from a constructor
// that validates them and returns (transport.Middleware, error) (Retry,
// DeadLetter, Dedup, Timeout, tracing.Middleware; Logging, whose only
// setting cannot be wrong, returns no error); one whose state is shared or
// read (LatencyRecorder, ConcurrencyLimiter, RateLimiter) is an object made
// by New..., whose Middleware method is the middleware.
//
// # Order
//
// transport.Chain(h, a, b, c) runs a outermost: a sees what b returns. The
// order that works, outermost first:
//
//	h = transport.Chain(handle,
//		middleware.CorrelationID,  // everything below sees the ID
//		tracingMW,                 // the span covers the whole handling
//		middleware.Logging(nil),   // one record per delivery, with its outcome
//		limiter.Middleware,        // wait for a slot before doing anything
//		dedup,                     // the claim covers dead-lettering and every retry
//		deadLetter,                // sees the error once Retry gave up
//		retry,
//		timeout,                   // a deadline per attempt
//		middleware.Recoverer,      // a panic becomes an error Retry and DeadLetter see
//	)
//
// Dedup must wrap DeadLetter: a busy duplicate's ErrBusy would otherwise be
// dead-lettered on a late delivery while its twin is being handled.
//
// # Delivery
//
// None of these middleware lose a message: an error they return leaves the
// message unacknowledged, and the backend delivers it again. DeadLetter
// acknowledges a message only once the dead-letter topic has it; Dedup marks
// a key done only after its handler succeeded; Retry hands the last error on
// unchanged.
//
// # Errors
//
// Constructors validate their options and return a transport.ErrInvalid
// error naming the bad one; none panics. At run time, Dedup returns ErrBusy
// for a delivery whose twin is being handled, and DeadLetter a
// *DeadLetterError when the dead-letter publish failed.
package middleware
