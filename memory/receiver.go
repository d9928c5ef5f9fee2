package memory

import (
	"context"
	"maps"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// takeBatch is how many messages a receiver moves from its queue per lock.
const takeBatch = 64

// receiver feeds one subscription from its queue; driver.Serve runs it.
type receiver struct {
	q      *queue
	detach func() // ephemeral: remove the queue from its topic

	// Guarded by q.mu: messages taken and not settled, bounded by the
	// subscription's prefetch.
	prefetch, unsettled int

	// Taken from the queue and not yet handed out; only Serve's intake
	// goroutine touches them.
	buf     [takeBatch]stored
	pending []stored
}

// delivery is what a handler gets: a fresh copy, so that a handler changing
// its metadata does not touch other groups' copies, and the stored message
// it came from, for Settle. One allocation holds both; it is the
// delivery's token.
type delivery struct {
	msg    transport.Message
	stored stored
}

func (r *receiver) Receive(ctx context.Context) (driver.Delivery, error) {
	if len(r.pending) == 0 {
		n, err := r.q.take(ctx, r, r.buf[:])
		if err != nil {
			return driver.Delivery{}, err
		}
		r.pending = r.buf[:n]
	}
	s := r.pending[0]
	r.pending[0] = stored{}
	r.pending = r.pending[1:]
	s.attempts++
	d := &delivery{msg: *s.m, stored: s}
	d.msg.Metadata = maps.Clone(s.m.Metadata)
	d.msg.Attempt = s.attempts
	return driver.Delivery{Message: &d.msg, Token: d}, nil
}

func (r *receiver) Settle(d driver.Delivery, err error) {
	r.q.settle(r, d.Token.(*delivery).stored, err == nil)
}

// Close returns what was taken and never handed out, then detaches an
// ephemeral queue. Serve calls it after every handed-out message was settled.
func (r *receiver) Close() error {
	r.q.giveBack(r, r.pending)
	r.pending = nil
	if r.detach != nil {
		r.detach()
	}
	return nil
}
