package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrClosed: the publisher, subscriber or subscription is closed.
	ErrClosed = errors.New("brokerkit: closed")
	// ErrInvalid: bad input (empty topic, nil message, bad option); nothing was sent.
	ErrInvalid = errors.New("brokerkit: invalid argument")
	// ErrTooLarge: a payload exceeds the backend's limit; nothing was sent.
	ErrTooLarge = errors.New("brokerkit: message too large")
	// ErrNotFound: the topic, queue or exchange does not exist.
	ErrNotFound = errors.New("brokerkit: not found")
	// ErrUnauthorized: the broker refused the credentials or the operation.
	ErrUnauthorized = errors.New("brokerkit: unauthorized")
	// ErrUnavailable: the broker cannot be reached now; trying again may help.
	ErrUnavailable = errors.New("brokerkit: broker unavailable")
	// ErrNotConfirmed: the broker did not confirm a message (nack, lost
	// confirm, unroutable); it may or may not have been stored.
	ErrNotConfirmed = errors.New("brokerkit: not confirmed")
)

// Code classifies an error.
type Code int

const (
	CodeOK               Code = iota // no error
	CodeUnknown                      // not classified: treated as retryable
	CodeInvalid                      // bad input: ErrInvalid, ErrTooLarge
	CodeNotFound                     // ErrNotFound
	CodeUnauthorized                 // ErrUnauthorized
	CodeClosed                       // ErrClosed
	CodeUnavailable                  // ErrUnavailable, a lost connection
	CodeNotConfirmed                 // ErrNotConfirmed
	CodeCanceled                     // context.Canceled
	CodeDeadlineExceeded             // context.DeadlineExceeded
	CodePermanent                    // marked with Permanent: never retry
)

var codeNames = [...]string{"OK", "Unknown", "Invalid", "NotFound", "Unauthorized", "Closed",
	"Unavailable", "NotConfirmed", "Canceled", "DeadlineExceeded", "Permanent"}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Error carries a Code with the error that caused it; backends wrap native
// client errors in it so that errors.As still reaches them.
type Error struct {
	Code Code
	Op   string // what was being done, for the message: "publish", "subscribe", ...
	Err  error
}

// NewError wraps err with a code. It returns nil for a nil err, and context
// errors unwrapped, as they are.
func NewError(code Code, op string, err error) error {
	if err == nil || err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	return &Error{Code: code, Op: op, Err: err}
}

func (e *Error) Error() string {
	if e.Op == "" {
		return "brokerkit: " + e.Err.Error()
	}
	return "brokerkit: " + e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrUnavailable) and friends match by code: an
// *Error matches the one sentinel that stands for its code. The finer
// sentinels sharing a code (ErrTooLarge, ErrUnsupported are CodeInvalid)
// match only when they are in the chain, so that errors.Is(err,
// ErrUnsupported) does not hold for any bad input.
func (e *Error) Is(target error) bool {
	return target != nil && codeSentinels[e.Code] == target
}

// codeSentinels is the sentinel an *Error of each code matches.
var codeSentinels = map[Code]error{
	CodeClosed:       ErrClosed,
	CodeInvalid:      ErrInvalid,
	CodeNotFound:     ErrNotFound,
	CodeUnauthorized: ErrUnauthorized,
	CodeUnavailable:  ErrUnavailable,
	CodeNotConfirmed: ErrNotConfirmed,
}

var sentinelCodes = map[error]Code{
	ErrClosed:       CodeClosed,
	ErrInvalid:      CodeInvalid,
	ErrTooLarge:     CodeInvalid,
	ErrNotFound:     CodeNotFound,
	ErrUnauthorized: CodeUnauthorized,
	ErrUnavailable:  CodeUnavailable,
	ErrNotConfirmed: CodeNotConfirmed,
	ErrUnsupported:  CodeInvalid,
}

// CodeOf classifies err: CodeOK for nil, the code of the first *Error or
// sentinel in its chain, CodeUnauthorized for a TLS certificate that failed
// verification, CodeUnavailable for a network error (refused, reset, EOF,
// timeout), and CodeUnknown otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var p *permanentError
	if errors.As(err, &p) {
		return CodePermanent
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	}
	for s, c := range sentinelCodes {
		if errors.Is(err, s) {
			return c
		}
	}
	if certificateRefused(err) {
		return CodeUnauthorized
	}
	if networkError(err) {
		return CodeUnavailable
	}
	return CodeUnknown
}

// certificateRefused reports a TLS certificate that failed verification: no
// new connection gets past it, so it must not look like an outage.
func certificateRefused(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &host) || errors.As(err, &invalid)
}

// networkError reports a failed or dropped connection, which a new
// connection may get past.
func networkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// Retryable reports whether doing the same thing again may succeed: false for
// bad input, missing resources, refused credentials, closed objects, a
// cancelled context and errors marked Permanent; true otherwise, including
// unclassified errors and a deadline that passed (a timeout says nothing of
// the next try, which may have more time).
func Retryable(err error) bool {
	switch CodeOf(err) {
	case CodeOK, CodeInvalid, CodeNotFound, CodeUnauthorized, CodeClosed, CodePermanent, CodeCanceled:
		return false
	}
	return true
}

// Permanent marks a handler error as one that no retry will fix (a malformed
// payload, say), so that retry middleware gives up at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Invalidf returns an ErrInvalid error with a message naming the problem.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// PublishError reports which messages of one Publish call the broker did not
// confirm. Messages not listed were confirmed.
type PublishError struct {
	Failed []FailedMessage
}

// FailedMessage is one message that was not confirmed, by its index in the
// Publish call.
type FailedMessage struct {
	Index int
	ID    string
	Err   error
}

func (e *PublishError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "brokerkit: publish: %d message(s) not confirmed", len(e.Failed))
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, "; #%d (id %s): %v", f.Index, f.ID, f.Err)
	}
	return b.String()
}

// Unwrap exposes every cause to errors.Is and errors.As.
func (e *PublishError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// RedactString redacts a URL given as text; text that does not parse as a
// URL is replaced whole, since it may hold a password in any form.
func RedactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}
