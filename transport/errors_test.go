package transport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

func TestCodeOfAndRetryable(t *testing.T) {
	native := io.ErrUnexpectedEOF
	cases := []struct {
		err       error
		code      transport.Code
		retryable bool
	}{
		{nil, transport.CodeOK, false},
		{errors.New("boom"), transport.CodeUnknown, true},
		{transport.Invalidf("empty topic"), transport.CodeInvalid, false},
		{fmt.Errorf("wrapped: %w", transport.ErrTooLarge), transport.CodeInvalid, false},
		{transport.ErrNotFound, transport.CodeNotFound, false},
		{transport.ErrUnauthorized, transport.CodeUnauthorized, false},
		{transport.ErrClosed, transport.CodeClosed, false},
		{transport.ErrUnavailable, transport.CodeUnavailable, true},
		{transport.ErrNotConfirmed, transport.CodeNotConfirmed, true},
		{context.Canceled, transport.CodeCanceled, false},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), transport.CodeDeadlineExceeded, true},
		{transport.Permanent(errors.New("bad payload")), transport.CodePermanent, false},
		{transport.Permanent(transport.ErrUnavailable), transport.CodePermanent, false},
		{transport.NewError(transport.CodeUnavailable, "dial", native), transport.CodeUnavailable, true},
		{&transport.PublishError{Failed: []transport.FailedMessage{{ID: "a", Err: transport.ErrNotConfirmed}}}, transport.CodeNotConfirmed, true},
	}
	for _, c := range cases {
		if got := transport.CodeOf(c.err); got != c.code {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.code)
		}
		if got := transport.Retryable(c.err); got != c.retryable {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.retryable)
		}
	}
}

func TestErrorKeepsNativeCause(t *testing.T) {
	err := transport.NewError(transport.CodeUnavailable, "dial", io.ErrUnexpectedEOF)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("native cause not reachable with errors.Is")
	}
	if !errors.Is(err, transport.ErrUnavailable) {
		t.Error("code not matched by its sentinel")
	}
	if errors.Is(err, transport.ErrClosed) {
		t.Error("matched a sentinel of another code")
	}
}

func TestRedact(t *testing.T) {
	const secret = "s3cr3t-pa55"
	for _, s := range []string{
		transport.RedactString("amqp://user:" + secret + "@host:5672/vh"),
		transport.RedactString("amqp://user:" + secret + "@host:5672/%zz"),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("password in %q", s)
		}
	}
}

func TestNetworkErrorsAreUnavailable(t *testing.T) {
	for _, err := range []error{
		io.EOF,
		fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		fmt.Errorf("write: %w", syscall.EPIPE),
		net.ErrClosed,
	} {
		if got := transport.CodeOf(err); got != transport.CodeUnavailable {
			t.Errorf("CodeOf(%v) = %v, want Unavailable", err, got)
		}
	}
}

// An *Error matches the sentinel of its code only: a finer sentinel of the
// same code (ErrTooLarge, ErrUnsupported) matches only when in the chain.
func TestErrorMatchesOnlyItsCodesSentinel(t *testing.T) {
	bad := transport.NewError(transport.CodeInvalid, "declare", errors.New("PRECONDITION_FAILED"))
	if !errors.Is(bad, transport.ErrInvalid) {
		t.Error("a CodeInvalid error does not match ErrInvalid")
	}
	for _, finer := range []error{transport.ErrUnsupported, transport.ErrTooLarge} {
		if errors.Is(bad, finer) {
			t.Errorf("any CodeInvalid error matches %v", finer)
		}
	}
	tooLarge := transport.NewError(transport.CodeInvalid, "publish", fmt.Errorf("%w: 2 MB", transport.ErrTooLarge))
	if !errors.Is(tooLarge, transport.ErrTooLarge) || !errors.Is(tooLarge, transport.ErrInvalid) {
		t.Error("an ErrTooLarge in the chain is not matched")
	}
}
