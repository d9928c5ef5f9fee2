package middleware

import (
	"context"
	"runtime/debug"

	"github.com/brokerkit/brokerkit/transport"
)

// Recoverer turns a panic in the handler into a *transport.PanicError
// carrying the panic value and the stack.
//
// driver.Serve recovers panics too, but only around the whole chain, so a
// panic would unwind through Retry and DeadLetter without their seeing it.
// Placed inside them, Recoverer lets a panic be retried and, in the end,
// dead-lettered like any other failure.
func Recoverer(next transport.Handler) transport.Handler {
	return func(ctx context.Context, m *transport.Message) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = &transport.PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		return next(ctx, m)
	}
}
