package driver

import (
	"context"
	"fmt"
	"sync"

	"github.com/brokerkit/brokerkit/transport"
)

// CheckTopic returns an ErrInvalid error for a topic no backend accepts.
func CheckTopic(topic string) error {
	if topic == "" {
		return transport.Invalidf("empty topic")
	}
	return nil
}

// Prepare validates a publish before anything is sent and gives every
// message without an ID a new one. maxPayload is the backend's limit on one
// payload; 0 means none. A nil context is an ErrInvalid error, a context
// that has ended returns its error, so that every backend agrees. Backends
// call it first in Publish.
func Prepare(ctx context.Context, topic string, msgs []*transport.Message, maxPayload int) error {
	if ctx == nil {
		return transport.Invalidf("nil context")
	}
	if err := CheckTopic(topic); err != nil {
		return err
	}
	for i, m := range msgs {
		if m == nil {
			return transport.Invalidf("message #%d is nil", i)
		}
		if maxPayload > 0 && len(m.Payload) > maxPayload {
			return fmt.Errorf("%w: message #%d: payload of %d bytes exceeds the limit of %d",
				transport.ErrTooLarge, i, len(m.Payload), maxPayload)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = transport.NewID()
		}
	}
	return nil
}

// FailFrom builds the error for a publish of msgs of which msgs[:from] were
// confirmed and the rest failed with err; each failed message keeps its
// index in msgs. A context error is returned as it is, since it says all
// there is to say.
func FailFrom(msgs []*transport.Message, from int, err error) error {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	pe := &transport.PublishError{Failed: make([]transport.FailedMessage, 0, len(msgs)-from)}
	for i := from; i < len(msgs); i++ {
		pe.Failed = append(pe.Failed, transport.FailedMessage{Index: i, ID: msgs[i].ID, Err: err})
	}
	return pe
}

// Gate admits Publish calls until Close, and lets Close wait for the calls
// in progress: the closed flag and in-flight count every publisher needs.
// The zero value is open.
type Gate struct {
	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup
}

// Enter admits a call, which must call Leave when done; it returns
// transport.ErrClosed once Close was called.
func (g *Gate) Enter() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return transport.ErrClosed
	}
	g.calls.Add(1)
	return nil
}

// Leave ends a call Enter admitted.
func (g *Gate) Leave() { g.calls.Done() }

// Close refuses new calls and waits for those in progress. It reports
// whether it was the first Close, which releases the publisher's resources.
func (g *Gate) Close() (first bool) {
	g.mu.Lock()
	first = !g.closed
	g.closed = true
	g.mu.Unlock()
	g.calls.Wait()
	return first
}
