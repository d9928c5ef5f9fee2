package amqp

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
)

// slot is one of a Publisher's channels. A Publish call owns a slot while it
// writes its messages, then gives it back and waits for their confirms, so
// that other calls pipeline theirs on the same channel meanwhile. Only the
// owner touches ch, gen and state.
type slot struct {
	p      *Publisher
	window chan struct{} // a token per message written and not yet settled
	ch     *amqp.Channel
	closes chan *amqp.Error // ch's close reason
	gen    uint64           // the connection generation ch belongs to
	state  *chanState       // the confirm listener's side, with WithMandatory
}

// chanState is the confirm side of one channel: the messages written to it
// and not yet confirmed, in publish order, which is the order amqp091-go
// hands confirms to listeners in.
type chanState struct {
	window chan struct{}
	ch     *amqp.Channel
	retire sync.Once // closes ch after a nack (see Publisher.await)

	mu      sync.Mutex
	pending []*outMsg
	head    int
	broken  error // why the channel closed; nothing more may be added
}

// outMsg is one message of a Publish call on its way.
type outMsg struct {
	call     *call
	index    int
	id       string
	dc       *amqp.DeferredConfirmation // its confirm, without WithMandatory
	seq      uint64                     // its publish sequence number, with WithMandatory
	returned *amqp.Return               // set when the broker returned it (mandatory)
}

// call collects the outcome of one Publish call.
type call struct {
	mu        sync.Mutex
	remaining int
	failed    []transport.FailedMessage
	done      chan struct{}
}

func newCall(n int) *call { return &call{remaining: n, done: make(chan struct{})} }

func (c *call) settle(index int, id string, err error) {
	c.mu.Lock()
	if err != nil {
		c.failed = append(c.failed, transport.FailedMessage{Index: index, ID: id, Err: err})
	}
	c.remaining--
	last := c.remaining == 0
	c.mu.Unlock()
	if last {
		close(c.done)
	}
}

// err returns the call's outcome once done is closed.
func (c *call) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failed) == 0 {
		return nil
	}
	return &transport.PublishError{Failed: c.failed}
}

// ready makes sure the slot has an open channel, in confirm mode unless
// confirms are off, replacing a closed one.
func (s *slot) ready(ctx context.Context) error {
	if s.ch != nil {
		if !s.ch.IsClosed() {
			return nil
		}
		select {
		case reason := <-s.closes:
			if reason != nil && reason.Code == amqp.NotFound {
				// An exchange was deleted under us: declare again.
				s.p.forgetExchanges()
			}
		default:
		}
	}
	s.ch, s.state = nil, nil
	conn, gen, err := s.p.conn.get(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return classify.Wrap("open channel", err)
	}
	s.closes = ch.NotifyClose(make(chan *amqp.Error, 1))
	if s.p.cfg.confirms {
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			return classify.Wrap("confirm.select", err)
		}
	}
	s.ch, s.gen = ch, gen
	if !s.p.cfg.mandatory {
		// Each Publish call awaits the deferred confirmations of its own
		// messages: no goroutine between the broker's ack and the caller.
		return nil
	}
	// With mandatory, a confirm alone does not say the message was routed:
	// a basic.return comes first. Both are read by one goroutine, in order.
	st := &chanState{window: s.window, ch: ch}
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, s.p.cfg.window))
	// Unbuffered: amqp091-go hands a return over before it reads the next
	// frame, and the broker sends basic.return before the message's
	// basic.ack, so a return is always recorded before its confirm is seen.
	returns := ch.NotifyReturn(make(chan amqp.Return))
	s.p.listeners.Add(1)
	go func() {
		defer s.p.listeners.Done()
		s.p.listen(st, confirms, returns, closes)
	}()
	s.state = st
	return nil
}

// add records m as written to the channel; false when the channel already
// closed.
func (st *chanState) add(m *outMsg) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.broken != nil {
		return false
	}
	st.pending = append(st.pending, m)
	return true
}

// unadd takes back the last message added, whose write failed. It reports
// false when the channel closed meanwhile and failed it already.
func (st *chanState) unadd(m *outMsg) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := len(st.pending); n > st.head && st.pending[n-1] == m {
		st.pending[n-1] = nil
		st.pending = st.pending[:n-1]
		return true
	}
	return false
}

// confirmed removes the pending message that confirmation tag is for, and
// returns it with those before it whose confirms never came. amqp091-go
// hands confirms to listeners in order, but drops one that a listener does
// not take within 5 seconds; matching by sequence number keeps a lost one
// from shifting every later confirm onto the wrong message.
func (st *chanState) confirmed(tag uint64) (m *outMsg, skipped []*outMsg) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for st.head < len(st.pending) {
		head := st.pending[st.head]
		if head.seq > tag {
			break // a confirm for nothing pending: not ours to settle
		}
		st.pending[st.head] = nil
		st.head++
		if head.seq == tag {
			m = head
			break
		}
		skipped = append(skipped, head)
	}
	switch {
	case st.head == len(st.pending):
		st.pending, st.head = st.pending[:0], 0
	case st.head > 1024 && st.head > len(st.pending)/2:
		n := copy(st.pending, st.pending[st.head:])
		clear(st.pending[n:])
		st.pending, st.head = st.pending[:n], 0
	}
	return m, skipped
}

// markReturned records a basic.return on the oldest pending message with
// its ID.
func (st *chanState) markReturned(r amqp.Return) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.pending[st.head:] {
		if m.id == r.MessageId && m.returned == nil {
			m.returned = &r
			return
		}
	}
}

// fail marks the channel closed and returns what was pending on it.
func (st *chanState) fail(err error) []*outMsg {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.broken = err
	out := st.pending[st.head:]
	st.pending, st.head = nil, 0
	return out
}

// listen settles the messages of one channel as the broker confirms them,
// and fails those still pending when the channel closes.
func (p *Publisher) listen(st *chanState, confirms <-chan amqp.Confirmation, returns <-chan amqp.Return, closes <-chan *amqp.Error) {
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			st.markReturned(r)
		case c, ok := <-confirms:
			if !ok {
				p.channelClosed(st, closes)
				return
			}
			m, skipped := st.confirmed(c.DeliveryTag)
			for _, lost := range skipped {
				<-st.window
				lost.call.settle(lost.index, lost.id, errConfirmLost)
			}
			if m == nil {
				continue
			}
			var err error
			switch {
			case !c.Ack:
				err = errNacked
				// Retired as in Publisher.await; closed by another
				// goroutine, as this one must go on reading confirms
				// for the close to complete.
				st.retire.Do(func() {
					p.listeners.Add(1)
					go func() {
						defer p.listeners.Done()
						_ = st.ch.Close()
					}()
				})
			case m.returned != nil:
				err = errUnroutable(*m.returned)
			}
			<-st.window
			m.call.settle(m.index, m.id, err)
		}
	}
}

// channelClosed fails the messages whose confirms the closed channel took
// with it: the broker may or may not have them, so Publish must not report
// them delivered.
func (p *Publisher) channelClosed(st *chanState, closes <-chan *amqp.Error) {
	err := errConfirmLost
	select {
	case reason, ok := <-closes:
		if ok && reason != nil {
			err = transport.NewError(transport.CodeNotConfirmed, "publish",
				fmt.Errorf("%w: the channel closed before the broker confirmed the message: %w",
					transport.ErrNotConfirmed, reason))
		}
	default:
	}
	for _, m := range st.fail(err) {
		<-st.window
		m.call.settle(m.index, m.id, err)
	}
}
