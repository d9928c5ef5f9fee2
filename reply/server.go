package reply

import (
	"context"
	"errors"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Func computes the reply to a request. A nil reply with a nil error sends
// an empty reply. An error is sent back as an error reply, which the caller
// gets as a *RemoteError; the request is acknowledged either way.
type Func func(ctx context.Context, req *transport.Message) (*transport.Message, error)

// Handler returns a transport.Handler that runs fn on each request and
// publishes its result with pub to the request's MetaReplyTo topic, carrying
// its MetaCorrelationID. The request is acknowledged only once the reply is
// published: if publishing fails, the handler returns the error and the
// request is delivered again. A request without MetaReplyTo (a one-way
// message) runs fn and sends nothing; a request whose MetaDeadline has
// passed is acknowledged without running fn, and fn's context ends at the
// deadline.
//
// A reply topic that no longer exists (transport.ErrNotFound from pub: its
// client has closed) drops the reply and acknowledges the request. Backends
// that create missing topics (RabbitMQ exchanges are declared on publish)
// would create the closed client's reply topic again for a late reply;
// give the handler a publisher that does not (amqp.WithExistingTopology, a
// Kafka publisher without topic creation) to avoid that.
//
// Subscribe the handler with a group, so that requests wait in the broker
// while no server runs and are shared by the servers that do.
func Handler(pub transport.Publisher, fn Func) (transport.Handler, error) {
	if pub == nil {
		return nil, transport.Invalidf("reply.Handler: nil publisher")
	}
	if fn == nil {
		return nil, transport.Invalidf("reply.Handler: nil function")
	}
	return func(ctx context.Context, req *transport.Message) error {
		if dl, ok := deadline(req); ok {
			if !time.Now().Before(dl) {
				return nil // the caller has stopped waiting
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl)
			defer cancel()
		}
		rep, err := fn(ctx, req)
		to := req.Metadata.Get(MetaReplyTo)
		if to == "" {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				// The subscription is closing, or the caller's deadline
				// passed: not the function's failure to report.
				if _, ok := deadline(req); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return nil
				}
				return err
			}
			rep = &transport.Message{}
			rep.SetMetadata(MetaError, err.Error())
		} else if rep == nil {
			rep = &transport.Message{}
		} else {
			rep = rep.Copy()
			delete(rep.Metadata, MetaError) // only an error reply carries it
		}
		rep.ID = ""
		rep.SetMetadata(MetaCorrelationID, req.Metadata.Get(MetaCorrelationID))
		err = pub.Publish(ctx, to, rep)
		if errors.Is(err, transport.ErrNotFound) {
			// The reply topic is gone: its client closed, and nobody will
			// ever read this reply. Redelivering the request cannot help.
			return nil
		}
		return err
	}, nil
}

func deadline(req *transport.Message) (time.Time, bool) {
	s := req.Metadata.Get(MetaDeadline)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
