// Package driver is what a brokerkit backend is written against, kept apart
// from the user API in package transport as database/sql/driver is from
// database/sql. A backend does the I/O; this package does the shared work
// once: concurrency, per-key ordering, panic recovery, redelivery backoff,
// draining on close, validation and error plumbing. docs/backends/writing.md
// walks through a complete small backend.
//
// # The contract
//
// A backend provides a transport.Publisher, a transport.Subscriber and, to be
// reachable by URL, a transport.Opener registered with transport.Register.
//
// Publish starts with Prepare, which validates the call (nil context, empty
// topic, nil message, payload over the backend's limit: ErrInvalid or
// ErrTooLarge, nothing sent), returns a context that has already ended as
// its error, and gives every message without an ID one. Publish returns nil
// only once the broker has taken every message; otherwise a
// *transport.PublishError naming the messages not confirmed (FailFrom
// builds one), or the context's error. A Gate gives the publisher its
// closed flag and lets Close wait for the calls in progress.
//
// Subscribe is Subscribe in this package, given a function that opens the
// backend's Receiver: it validates the call, opens the Receiver (topology
// declared, group joined, offsets resolved: the subscription is live when
// open returns, and the context bounds open only), and runs it with Serve.
//
// Serve owns the Receiver from then on:
//
//   - Receive is called from one goroutine, Serve's intake, until it
//     returns an error. Its context ends when the subscription stops. A
//     backend that reconnects does so inside Receive; an error other than
//     the context's ends the subscription, and Subscription.Err returns it.
//   - Each Delivery's Message belongs to its handler once handed out. A
//     redelivery is a new Message (with Attempt raised), never the same one
//     handed out again.
//   - Settle is called exactly once per Delivery, from any goroutine, with
//     nil (acknowledge), with the handler's error, or with an error saying
//     it was not handled (the subscription stopped; ErrNotOwned). Any
//     non-nil error means: deliver it again. Settle cannot fail: an ack the
//     broker cannot take leaves the message to the broker's redelivery, and
//     the backend logs it.
//   - Delivery.Token carries the backend's own record of the delivery to
//     Settle. What Message.As reaches is separate: SetNative records it.
//   - A Receiver that implements Owner is asked, just before each handler
//     runs, whether the delivery is still its own (a Kafka partition can be
//     revoked while its messages wait); one it disowns is settled with
//     ErrNotOwned and never handled.
//   - Close is called once, after every Delivery was settled; it releases
//     the subscription's broker resources.
//
// # Errors
//
// A backend classifies its client library's errors with a Classifier, whose
// Wrap keeps the native error reachable with errors.As, whose Retryable says
// whether a reconnect may help, and whose DeadlineError reports a context
// that ended while the broker kept failing. No error or log line may
// contain a password: print URLs with (*url.URL).Redacted.
//
// # Conformance
//
// Package transport/transporttest checks every line of the delivery
// contract a backend claims; every backend runs it.
package driver
