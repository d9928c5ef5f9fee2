// Package reply is request-reply over any brokerkit backend: a Client sends
// a request and waits for its reply (Request) or has a function called with
// it (Go), and Handler turns a function that computes a reply into a
// transport.Handler that sends it back.
//
// It uses only the portable API, so it works the same on memory, Kafka and
// RabbitMQ, with only the URL changed:
//
//	client, err := reply.NewClient(ctx, pub, sub)
//	defer client.Close()
//	rep, err := client.Request(ctx, "quotes", &transport.Message{Payload: []byte("AAPL")})
//
//	h, err := reply.Handler(pub, func(ctx context.Context, req *transport.Message) (*transport.Message, error) {
//		return &transport.Message{Payload: price(req.Payload)}, nil
//	})
//	s, err := sub.Subscribe(ctx, "quotes", h, transport.WithGroup("pricing"))
//
// # How it works
//
// Each Client owns a reply topic, unique to it ("brokerkit.reply.<id>"),
// created at NewClient when the backend offers transport.TopicAdmin and
// deleted at Close, and a subscription without a group to it, live before
// NewClient returns. A request carries two metadata entries, MetaReplyTo
// (the reply topic) and MetaCorrelationID (an ID new to each request), which
// the backends map onto their native fields (AMQP reply_to and
// correlation_id, Kafka headers). The server publishes its reply to the
// reply topic with the same correlation ID, and the client hands it to the
// caller waiting for that ID.
//
// On RabbitMQ the reply topic is an exchange with one exclusive,
// auto-deleted queue bound to it; on Kafka a topic of one partition; on
// memory a topic with one ephemeral queue.
//
// # Delivery
//
// Every request ends exactly once: with its reply, a *RemoteError when the
// server's function failed, the context's error (its deadline, or the
// client's WithTimeout), transport.ErrClosed when the client closes first,
// or the publish error. A reply that comes after its request ended (late),
// or a second reply to one request (a redelivered request handled twice),
// is dropped and counted in Stats().Dropped: it never reaches another
// caller, since every request has its own correlation ID. Nothing a request
// starts (map entry, goroutine) outlives it.
//
// The server acknowledges a request once its reply is published, so a
// server that stops mid-request leaves the request to be handled again
// (at-least-once; the client drops the duplicate reply). A request whose
// caller gave up (its deadline, sent in MetaDeadline, has passed) is
// acknowledged without running the function.
//
// # Errors
//
// A failure of the server's function comes back as a *RemoteError (match it
// with errors.As), distinct from failures to reach the broker, which are the
// backend's errors (transport.CodeOf classifies them). Context errors are
// returned unwrapped.
package reply
