package driver

import (
	"context"
	"errors"
	"fmt"

	"github.com/brokerkit/brokerkit/transport"
)

// Classifier is a backend's classification of its client library's errors
// (amqp091-go's *amqp.Error codes, kafka-go's error codes), ending with
// transport.CodeOf for what it does not know itself. Its methods are the
// error plumbing every backend shares.
type Classifier func(error) transport.Code

// Wrap classifies err for the portable API, with op saying what was being
// done. The native error stays reachable with errors.As; an error already
// classified and context errors are returned as they are.
func (c Classifier) Wrap(op string, err error) error {
	if err == nil || err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return err
	}
	return transport.NewError(c(err), op, err)
}

// Retryable reports whether a new connection, channel or request may
// succeed where err failed: for an outage or an unknown error, not for bad
// input, refused credentials, a missing resource or an ended context.
func (c Classifier) Retryable(err error) bool {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return false
	}
	switch c(err) {
	case transport.CodeUnavailable, transport.CodeUnknown:
		return true
	}
	return false
}

// DeadlineError reports that ctx ended while the broker kept failing with
// last: it matches both the context error (errors.Is) and the broker's.
func (c Classifier) DeadlineError(op string, ctx context.Context, last error) error {
	if last == nil || errors.Is(last, ctx.Err()) {
		return ctx.Err()
	}
	return transport.NewError(c(last), op, fmt.Errorf("%w (last error: %w)", ctx.Err(), last))
}
