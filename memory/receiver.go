package memory

import (
	"context"
	"maps"

	"github.com/brokerkit/brokerkit/transport"
)

// receiver feeds one subscription from its queue; transport.Serve runs it.
type receiver struct {
	q      *queue
	slots  chan struct{} // one per unsettled message, bounding it by the prefetch
	detach func()        // ephemeral: remove the queue from its topic
}

// Receive hands out the next message as a fresh copy, so that a handler
// changing its metadata does not touch other groups' copies.
func (r *receiver) Receive(ctx context.Context) (*transport.Message, error) {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s, err := r.q.pop(ctx)
	if err != nil {
		<-r.slots
		return nil, err
	}
	d := *s.m
	d.Metadata = maps.Clone(s.m.Metadata)
	d.Attempt = s.attempts
	transport.SetNative(&d, s)
	return &d, nil
}

func (r *receiver) Settle(m *transport.Message, err error) {
	r.q.settle(transport.Native(m).(stored), err == nil)
	<-r.slots
}

func (r *receiver) Close() error {
	if r.detach != nil {
		r.detach()
	}
	return nil
}
