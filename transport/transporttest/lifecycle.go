package transporttest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

func (s *suite) groupKeepsMessages(t *testing.T) {
	topic, group := s.topic(t), s.group(t)
	pub := s.publisher(t)
	first := NewCollector(nil)
	sub := s.subscriber(t)
	ss := s.subscribe(t, sub, topic, first.Handle, transport.WithGroup(group))
	warm := numbered("while-up", 3)
	s.publish(t, pub, topic, warm...)
	s.waitDistinct(t, first, len(warm))
	if err := ss.Close(); err != nil {
		t.Fatalf("closing the subscription: %v", err)
	}

	away := numbered("while-away", 20)
	s.publish(t, pub, topic, away...)

	back := NewCollector(nil)
	s.subscribe(t, s.subscriber(t), topic, back.Handle, transport.WithGroup(group))
	s.waitDistinct(t, back, len(away))
	quiet()
	mustMatchIDs(t, back, away)
}

// slowHandler blocks each message until release is closed, counting starts
// and finishes.
type slowHandler struct {
	started, finished, cancelled atomic.Int64
	release                      chan struct{}
	rec                          *Collector
}

func newSlowHandler() *slowHandler {
	return &slowHandler{release: make(chan struct{}), rec: NewCollector(nil)}
}

func (h *slowHandler) Handle(ctx context.Context, m *transport.Message) error {
	h.started.Add(1)
	select {
	case <-h.release:
	case <-ctx.Done():
		h.cancelled.Add(1)
		return ctx.Err()
	}
	h.finished.Add(1)
	return h.rec.Handle(ctx, m)
}

// stopWhileBusy starts a subscription with 4 handlers blocked mid-message,
// stops it with stop, and checks that stopping waited for them and did not
// cancel them. It returns the handler and the messages published.
func (s *suite) stopWhileBusy(t *testing.T, topic, group string, stop func(*transport.Subscription, context.CancelFunc)) (*slowHandler, []*transport.Message) {
	pub, sub := s.publisher(t), s.subscriber(t)
	h := newSlowHandler()
	life, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := []transport.SubscribeOption{transport.WithConcurrency(4), transport.WithDrainTimeout(s.h.Timeout),
		transport.WithLifetime(life)}
	if group != "" {
		opts = append(opts, transport.WithGroup(group))
	}
	ss, err := sub.Subscribe(s.ctx(t), topic, h.Handle, opts...)
	if err != nil {
		t.Fatal(err)
	}
	msgs := numbered("drain", 12)
	s.publish(t, pub, topic, msgs...)
	waitFor(t, s.h.Timeout, nil, func() bool { return h.started.Load() >= 4 },
		func() string { return "waiting for 4 handlers to start" })

	stopped := make(chan struct{})
	go func() {
		stop(ss, cancel)
		<-ss.Done()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("the subscription ended while its handlers were still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(h.release)
	select {
	case <-stopped:
	case <-time.After(s.h.Timeout):
		t.Fatal("the subscription did not end after its handlers returned")
	}
	if n := h.cancelled.Load(); n != 0 {
		t.Errorf("%d handlers had their context cancelled within the drain timeout", n)
	}
	if h.finished.Load() < 4 {
		t.Errorf("only %d in-flight handlers finished, want at least 4", h.finished.Load())
	}
	// Close is a clean stop; the end of the lifetime says why it stopped.
	if err := ss.Err(); err != nil && (life.Err() == nil || err != life.Err()) {
		t.Errorf("Err after a clean stop: %v", err)
	}
	if life.Err() != nil && ss.Err() != context.Canceled {
		t.Errorf("Err after the lifetime ended: %v, want context.Canceled", ss.Err())
	}
	return h, msgs
}

func (s *suite) closeDrains(t *testing.T) {
	s.stopWhileBusy(t, s.topic(t), s.optionalGroup(t), func(ss *transport.Subscription, _ context.CancelFunc) {
		if err := ss.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := ss.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// lifetimeDrains: the end of a WithLifetime context stops the subscription
// as Close does.
func (s *suite) lifetimeDrains(t *testing.T) {
	s.stopWhileBusy(t, s.topic(t), s.optionalGroup(t), func(_ *transport.Subscription, cancel context.CancelFunc) { cancel() })
}

func (s *suite) optionalGroup(t testing.TB) string {
	if s.h.Caps.Groups {
		return s.group(t)
	}
	return ""
}

// nothingLostAcrossClose: what a closed subscription had not finished is
// delivered to the group's next subscription.
func (s *suite) nothingLostAcrossClose(t *testing.T) {
	topic, group := s.topic(t), s.group(t)
	h, msgs := s.stopWhileBusy(t, topic, group, func(ss *transport.Subscription, _ context.CancelFunc) { ss.Close() })

	rest := NewCollector(nil)
	s.subscribe(t, s.subscriber(t), topic, rest.Handle, transport.WithGroup(group))
	missing := func() []string {
		var ids []string
		for _, m := range msgs {
			if h.rec.Count(m.ID) == 0 && rest.Count(m.ID) == 0 {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	waitFor(t, s.h.Timeout, rest.change, func() bool { return len(missing()) == 0 },
		func() string { return "never handled: " + strings.Join(missing(), ", ") })
}

func (s *suite) publishAfterClose(t *testing.T) {
	pub := s.h.NewPublisher(t)
	if err := pub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := pub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err := pub.Publish(s.ctx(t), s.topic(t), &transport.Message{Payload: []byte("late")})
	if !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

func (s *suite) subscribeAfterClose(t *testing.T) {
	topic := s.topic(t)
	sub := s.h.NewSubscriber(t)
	ss, err := sub.Subscribe(s.ctx(t), topic, func(context.Context, *transport.Message) error { return nil }, s.plain(t)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-ss.Done():
	default:
		t.Error("closing the subscriber left its subscription running")
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err = sub.Subscribe(s.ctx(t), topic, func(context.Context, *transport.Message) error { return nil })
	if !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

func (s *suite) badInput(t *testing.T) {
	pub, sub := s.publisher(t), s.subscriber(t)
	topic := s.topic(t)
	ok := func(context.Context, *transport.Message) error { return nil }
	cases := []struct {
		name string
		err  error
	}{
		{"publish to empty topic", pub.Publish(s.ctx(t), "", &transport.Message{})},
		{"publish nil message", pub.Publish(s.ctx(t), topic, &transport.Message{}, nil)},
		{"publish nil context", pub.Publish(nilContext(), topic, &transport.Message{})},
		{"subscribe nil context", subErr(sub.Subscribe(nilContext(), topic, ok))},
		{"nil lifetime", subErr(sub.Subscribe(s.ctx(t), topic, ok, transport.WithLifetime(nilContext())))},
		{"subscribe to empty topic", subErr(sub.Subscribe(s.ctx(t), "", ok))},
		{"subscribe nil handler", subErr(sub.Subscribe(s.ctx(t), topic, nil))},
		{"concurrency 0", subErr(sub.Subscribe(s.ctx(t), topic, ok, transport.WithConcurrency(0)))},
		{"empty group", subErr(sub.Subscribe(s.ctx(t), topic, ok, transport.WithGroup("")))},
		{"negative drain timeout", subErr(sub.Subscribe(s.ctx(t), topic, ok, transport.WithDrainTimeout(-1)))},
	}
	for _, name := range s.h.InvalidTopics {
		cases = append(cases,
			struct {
				name string
				err  error
			}{fmt.Sprintf("publish to topic %q", name), pub.Publish(s.ctx(t), name, &transport.Message{})},
			struct {
				name string
				err  error
			}{fmt.Sprintf("subscribe to topic %q", name), subErr(sub.Subscribe(s.ctx(t), name, ok))})
	}
	for _, c := range cases {
		if !errors.Is(c.err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, c.err)
		}
		if c.err != nil && transport.Retryable(c.err) {
			t.Errorf("%s: bad input classified as retryable", c.name)
		}
	}
}

// subErr closes a subscription that should not have started.
func subErr(ss *transport.Subscription, err error) error {
	if ss != nil {
		ss.Close()
	}
	return err
}

func (s *suite) oversized(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	r := NewCollector(nil)
	s.subscribe(t, sub, topic, r.Handle, s.plain(t)...)
	small := &transport.Message{Payload: []byte("fits")}
	big := &transport.Message{Payload: make([]byte, s.h.Caps.MaxPayload+1)}
	err := pub.Publish(s.ctx(t), topic, small, big)
	if !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("Publish of %d bytes over a %d limit: %v, want ErrTooLarge", len(big.Payload), s.h.Caps.MaxPayload, err)
	}
	// Rejected before sending: the message that fits was not sent either.
	quiet()
	if n := r.Distinct(); n != 0 {
		t.Errorf("%d messages of a rejected publish were delivered", n)
	}
}

// nilContext hides a nil context from vet: passing one is the bad input
// under test.
func nilContext() context.Context { return nil }

// subscribeContextBoundsSetup: as with net.Dialer, the context given to
// Subscribe bounds setting up only; ending it afterwards (the habit of
// `defer cancel()`) does not end the subscription.
func (s *suite) subscribeContextBoundsSetup(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	r := NewCollector(nil)
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	ss, err := sub.Subscribe(ctx, topic, r.Handle, s.plain(t)...)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	msgs := numbered("after-cancel", 5)
	s.publish(t, pub, topic, msgs...)
	s.waitDistinct(t, r, len(msgs))
	if err := ss.Err(); err != nil {
		t.Errorf("Err: %v", err)
	}
}

// endedContext: a call whose context has already ended returns the context
// error, unwrapped, and sends nothing.
func (s *suite) endedContext(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	r := NewCollector(nil)
	s.subscribe(t, sub, topic, r.Handle, s.plain(t)...)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pub.Publish(ended, topic, &transport.Message{Payload: []byte("too late")}); err != context.Canceled {
		t.Errorf("Publish with an ended context: %v, want context.Canceled", err)
	}
	ok := func(context.Context, *transport.Message) error { return nil }
	if err := subErr(sub.Subscribe(ended, topic, ok, s.plain(t)...)); err != context.Canceled {
		t.Errorf("Subscribe with an ended context: %v, want context.Canceled", err)
	}
	if transport.Retryable(context.Canceled) {
		t.Error("a cancelled context is classified as retryable")
	}
	quiet()
	if n := r.Distinct(); n != 0 {
		t.Errorf("%d messages published with an ended context were delivered", n)
	}
}

// startOldest: where the broker keeps a log, a new group with
// WithStart(StartOldest) gets what was published before it subscribed;
// where it keeps none, the option is refused with ErrInvalid, the same on
// every such backend, rather than silently meaning something else.
func (s *suite) startOldest(t *testing.T) {
	topic := s.topic(t)
	pub, sub := s.publisher(t), s.subscriber(t)
	ok := func(context.Context, *transport.Message) error { return nil }
	if !s.h.Caps.Replay {
		err := subErr(sub.Subscribe(s.ctx(t), topic, ok, s.plain(t, transport.WithStart(transport.StartOldest))...))
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("WithStart(StartOldest) on a backend without a log: %v, want ErrInvalid", err)
		}
		return
	}
	early := numbered("before-subscribe", 4)
	s.publish(t, pub, topic, early...)
	r := NewCollector(nil)
	s.subscribe(t, sub, topic, r.Handle, s.plain(t, transport.WithStart(transport.StartOldest))...)
	s.waitDistinct(t, r, len(early))
	mustMatchIDs(t, r, early)
}

// unreachable: against a port that refuses connections and one that accepts
// them and says nothing, Publish and Subscribe return by their context's
// deadline, with its error or ErrUnavailable, never hang and never show the
// password.
func (s *suite) unreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // held open, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()

	ok := func(context.Context, *transport.Message) error { return nil }
	for name, addr := range map[string]string{"refused": refused, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			pub, sub := s.h.Unreachable(t, addr)
			defer pub.Close()
			defer sub.Close()
			for op, call := range map[string]func(context.Context) error{
				"publish":   func(ctx context.Context) error { return pub.Publish(ctx, "t", &transport.Message{}) },
				"subscribe": func(ctx context.Context) error { return subErr(sub.Subscribe(ctx, "t", ok)) },
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				err := call(ctx) // a hang here is the failure; the test's own timeout catches it
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, transport.ErrUnavailable) {
					t.Errorf("%s: %v, want the deadline's error or ErrUnavailable", op, err)
				}
				if s.h.Password != "" && err != nil && strings.Contains(err.Error(), s.h.Password) {
					t.Errorf("%s: the error shows the password: %v", op, err)
				}
			}
		})
	}
}

// missingTopic: clients that do not create topics refuse a missing one with
// ErrNotFound naming it, on publish and on subscribe.
func (s *suite) missingTopic(t *testing.T) {
	pub, sub := s.h.WithoutTopicCreation(t)
	defer pub.Close()
	defer sub.Close()
	topic := s.topicName(t)
	err := pub.Publish(s.ctx(t), topic, &transport.Message{Payload: []byte("x")})
	if !errors.Is(err, transport.ErrNotFound) || !strings.Contains(err.Error(), topic) {
		t.Errorf("publish to a missing topic: %v, want ErrNotFound naming it", err)
	}
	ok := func(context.Context, *transport.Message) error { return nil }
	err = subErr(sub.Subscribe(s.ctx(t), topic, ok, s.plain(t)...))
	if !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("subscribe to a missing topic: %v, want ErrNotFound", err)
	}
}
