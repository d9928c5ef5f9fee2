package transport

import (
	"context"
)

// Publisher sends messages to topics. It is safe for concurrent use.
type Publisher interface {
	// Publish sends msgs to topic and returns nil only once the broker has
	// taken every one of them. Otherwise the error is a context error, an
	// ErrInvalid error (nothing was sent), or a *PublishError naming the
	// messages that were not confirmed. Messages without an ID get one.
	Publish(ctx context.Context, topic string, msgs ...*Message) error
	// Close flushes what is pending and releases the publisher. It is
	// idempotent; Publish after Close returns ErrClosed.
	Close() error
}

// Subscriber opens subscriptions. It is safe for concurrent use.
type Subscriber interface {
	// Subscribe starts handling the messages of topic and returns once the
	// subscription is live, or with an error when ctx ends first. As with
	// net.Dialer.DialContext, ctx bounds setting the subscription up only:
	// once Subscribe returned, ending ctx has no effect, and the
	// subscription runs until Subscription.Close, the subscriber's Close, or
	// the end of a context given with WithLifetime. Handlers see ctx's
	// values.
	Subscribe(ctx context.Context, topic string, h Handler, opts ...SubscribeOption) (*Subscription, error)
	// Close closes every subscription it opened and releases the
	// subscriber. It is idempotent.
	Close() error
}

// Handler handles one delivered message. Returning nil acknowledges it; an
// error (or a panic) has it delivered again. ctx carries the values of the
// context given to Subscribe; it ends only when the subscription is closed
// and the drain timeout has passed, not when the handler returns, so work
// that must stop with the handling needs a context of its own.
type Handler func(ctx context.Context, m *Message) error

// Middleware wraps a handler, as net/http middleware wraps an http.Handler.
type Middleware func(Handler) Handler

// Chain wraps h in mws; the first middleware runs outermost, so
// Chain(h, a, b) runs a, then b, then h.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// PublisherMiddleware wraps a publisher, for what happens on the way out
// (stamping, tracing, correlation).
type PublisherMiddleware func(Publisher) Publisher

// ChainPublisher wraps p in mws; the first runs outermost.
func ChainPublisher(p Publisher, mws ...PublisherMiddleware) Publisher {
	for i := len(mws) - 1; i >= 0; i-- {
		p = mws[i](p)
	}
	return p
}

// PublisherFunc adapts a function to a Publisher whose Close is a no-op; it is
// handy in tests and in publisher middleware around another's Close.
type PublisherFunc func(ctx context.Context, topic string, msgs ...*Message) error

func (f PublisherFunc) Publish(ctx context.Context, topic string, msgs ...*Message) error {
	return f(ctx, topic, msgs...)
}

func (f PublisherFunc) Close() error { return nil }
