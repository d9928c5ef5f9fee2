package middleware

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Logging logs every handling through l: at Debug when it succeeded, at Warn
// when it failed with an error worth retrying (the message comes back), at
// Error when it failed for good (a transport.Permanent error, bad input) or
// panicked. A nil l means slog.Default(): a logging middleware that logs
// nothing unless configured would be a trap.
//
// Each record has the topic, message ID, delivery attempt, duration and,
// when there is one, the correlation ID and the error. Payloads, keys and
// metadata are never logged: they may hold personal data or credentials.
// Error texts are the handler's own; keep passwords out of them.
func Logging(l *slog.Logger) transport.Middleware {
	if l == nil {
		l = slog.Default()
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			start := time.Now()
			err := next(ctx, m)
			level := slog.LevelDebug
			msg := "message handled"
			if err != nil {
				msg = "message handling failed"
				level = slog.LevelWarn
				var p *transport.PanicError
				if !transport.Retryable(err) || errors.As(err, &p) {
					level = slog.LevelError
				}
			}
			if !l.Enabled(ctx, level) {
				return err
			}
			attrs := make([]slog.Attr, 0, 8)
			attrs = append(attrs,
				slog.String("topic", m.Topic),
				slog.String("id", m.ID),
				slog.Int("attempt", m.Attempt),
				slog.Duration("duration", time.Since(start)))
			if id := CorrelationIDFrom(ctx); id != "" {
				attrs = append(attrs, slog.String("correlation_id", id))
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()),
					slog.String("code", transport.CodeOf(err).String()))
				var p *transport.PanicError
				if errors.As(err, &p) {
					attrs = append(attrs, slog.String("stack", string(p.Stack)))
				}
			}
			l.LogAttrs(ctx, level, msg, attrs...)
			return err
		}
	}
}
