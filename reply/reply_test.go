package reply_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/reply"
	"github.com/brokerkit/brokerkit/transport"
)

// upper is the server function of most tests: a reply the test can check
// against its request, so that a reply given to the wrong caller shows.
func upper(_ context.Context, req *transport.Message) (*transport.Message, error) {
	return &transport.Message{Payload: append([]byte("re:"), req.Payload...)}, nil
}

func serve(t testing.TB, e env, topic, group string, fn reply.Func, opts ...transport.SubscribeOption) *transport.Subscription {
	t.Helper()
	h, err := reply.Handler(e.pub, fn)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.sub.Subscribe(testContext(t, time.Minute), topic, h, append([]transport.SubscribeOption{transport.WithGroup(group)}, opts...)...)
	if err != nil {
		t.Fatalf("subscribing the server: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t testing.TB, e env, opts ...reply.Option) *reply.Client {
	t.Helper()
	c, err := reply.NewClient(testContext(t, time.Minute), e.pub, e.sub, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func forEachBackend(t *testing.T, f func(t *testing.T, e env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

// TestConcurrentRequests sends 10,000 requests at once, half with Request
// and half with Go, and checks that every caller gets its own reply.
func TestConcurrentRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		const n = 10000
		topic := e.topic(t, "server")
		serve(t, e, topic, "server", upper, transport.WithConcurrency(64), transport.WithPrefetch(512))
		c := newClient(t, e, reply.WithTimeout(5*time.Minute))
		ctx := testContext(t, 5*time.Minute)

		var wg sync.WaitGroup
		var wrong, failed, calls atomic.Int64
		check := func(i int, rep *transport.Message, err error) {
			calls.Add(1)
			switch {
			case err != nil:
				if failed.Add(1) <= 3 {
					t.Errorf("request %d: %v", i, err)
				}
			case string(rep.Payload) != "re:"+strconv.Itoa(i):
				if wrong.Add(1) <= 3 {
					t.Errorf("request %d got the reply %q", i, rep.Payload)
				}
			}
		}
		for i := range n {
			wg.Add(1)
			msg := &transport.Message{Payload: []byte(strconv.Itoa(i))}
			if i%2 == 0 {
				go func() {
					defer wg.Done()
					rep, err := c.Request(ctx, topic, msg)
					check(i, rep, err)
				}()
				continue
			}
			if err := c.Go(ctx, topic, msg, func(rep *transport.Message, err error) {
				defer wg.Done()
				check(i, rep, err)
			}); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		if calls.Load() != n || wrong.Load() != 0 || failed.Load() != 0 {
			t.Fatalf("%d of %d requests ended: %d wrong replies, %d errors", calls.Load(), n, wrong.Load(), failed.Load())
		}
		if st := c.Stats(); st.Pending != 0 || st.Dropped != 0 {
			t.Fatalf("after every reply: %+v, want nothing pending or dropped", st)
		}
	})
}

// TestTimeoutLeavesNothingBehind asks a server that never answers: every
// request ends with DeadlineExceeded, and the client's map and the
// goroutine count come back to where they were.
func TestTimeoutLeavesNothingBehind(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		topic := e.topic(t, "mute")
		s, err := e.sub.Subscribe(testContext(t, time.Minute), topic,
			func(context.Context, *transport.Message) error { return nil }, transport.WithGroup("mute"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		c := newClient(t, e)
		ctx := testContext(t, time.Minute)

		// One round first, so that the backends' lazily started goroutines
		// (connections, partition senders) are counted in the baseline.
		shortCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		if _, err := c.Request(shortCtx, topic, &transport.Message{Payload: []byte("warm-up")}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("warm-up: %v, want DeadlineExceeded", err)
		}
		cancel()
		base := settledGoroutines()

		const n = 200
		var wg sync.WaitGroup
		var bad atomic.Int64
		for i := range n {
			wg.Add(1)
			rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := c.Go(rctx, topic, &transport.Message{Payload: []byte(strconv.Itoa(i))}, func(_ *transport.Message, err error) {
				defer wg.Done()
				defer cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					bad.Add(1)
					t.Errorf("request %d: %v, want DeadlineExceeded", i, err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.FailNow()
		}
		if st := c.Stats(); st.Pending != 0 {
			t.Fatalf("%d requests still pending after all timed out", st.Pending)
		}
		if e.inProcessBroker {
			// kfake's goroutines for the connections kafka-go opened and
			// keeps idle count too: check that none of ours is left.
			waitNoGoroutineIn(t, "brokerkit/reply.")
		} else {
			waitGoroutines(t, base)
		}
	})
}

// settledGoroutines returns the goroutine count once it stops falling.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return n
		}
		n = m
	}
	return n
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the requests:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitNoGoroutineIn(t *testing.T, pkg string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		buf := make([]byte, 8<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		// The running test's own goroutine is in reply_test, not reply.
		if !strings.Contains(stacks, pkg) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines still in %s:\n%s", pkg, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestErrorReply: a failing server function reaches the caller as a
// *RemoteError, which a transport failure never is.
func TestErrorReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		topic := e.topic(t, "failing")
		serve(t, e, topic, "failing", func(_ context.Context, req *transport.Message) (*transport.Message, error) {
			return nil, fmt.Errorf("no item %q", req.Payload)
		})
		c := newClient(t, e)
		ctx := testContext(t, time.Minute)
		_, err := c.Request(ctx, topic, &transport.Message{Payload: []byte("42")})
		var re *reply.RemoteError
		if !errors.As(err, &re) || re.Message != `no item "42"` {
			t.Fatalf("Request: %v (%T), want a RemoteError saying no item \"42\"", err, err)
		}
		if re.Reply == nil || re.Reply.Metadata.Get(reply.MetaError) != re.Message {
			t.Fatalf("RemoteError.Reply = %+v", re.Reply)
		}
		_, err = c.Request(ctx, "", &transport.Message{})
		if !errors.Is(err, transport.ErrInvalid) || errors.As(err, &re) {
			t.Fatalf("Request to an empty topic: %v, want ErrInvalid and no RemoteError", err)
		}
	})
}

// TestDuplicateAndLateReplies: a server that answers twice, and one that
// answers after the caller gave up; the extra replies are dropped and
// counted.
func TestDuplicateAndLateReplies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		topic := e.topic(t, "twice")
		release := make(chan struct{})
		s, err := e.sub.Subscribe(testContext(t, time.Minute), topic, func(ctx context.Context, req *transport.Message) error {
			if string(req.Payload) == "late" {
				<-release
			}
			for range 2 {
				rep := &transport.Message{Payload: req.Payload}
				rep.SetMetadata(reply.MetaCorrelationID, req.Metadata.Get(reply.MetaCorrelationID))
				if err := e.pub.Publish(ctx, req.Metadata.Get(reply.MetaReplyTo), rep); err != nil {
					return err
				}
			}
			return nil
		}, transport.WithGroup("twice"), transport.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		c := newClient(t, e)
		ctx := testContext(t, time.Minute)

		rep, err := c.Request(ctx, topic, &transport.Message{Payload: []byte("once")})
		if err != nil || string(rep.Payload) != "once" {
			t.Fatalf("Request: %v, %v", rep, err)
		}
		waitDropped(t, c, 1)

		lateCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := c.Request(lateCtx, topic, &transport.Message{Payload: []byte("late")}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("late request: %v, want DeadlineExceeded", err)
		}
		close(release)
		waitDropped(t, c, 3)
		rep, err = c.Request(ctx, topic, &transport.Message{Payload: []byte("after")})
		if err != nil || string(rep.Payload) != "after" {
			t.Fatalf("Request after the late replies: %v, %v", rep, err)
		}
	})
}

func waitDropped(t *testing.T, c *reply.Client, want uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().Dropped < want {
		if time.Now().After(deadline) {
			t.Fatalf("Dropped = %d, want %d", c.Stats().Dropped, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.Stats().Dropped; got != want {
		t.Fatalf("Dropped = %d, want %d", got, want)
	}
}

// TestServerRestart stops the server while it is handling requests (its
// drain timeout cut short, so requests in flight are redelivered, and on
// Kafka what was handled since the last commit is handled again) and starts
// a new one: every caller gets its own reply or an error, never another's,
// and the duplicate replies are dropped.
func TestServerRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		topic := e.topic(t, "restarted")
		h, err := reply.Handler(e.pub, func(ctx context.Context, req *transport.Message) (*transport.Message, error) {
			select {
			case <-time.After(time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return upper(ctx, req)
		})
		if err != nil {
			t.Fatal(err)
		}
		start := func() *transport.Subscription {
			s, err := e.sub.Subscribe(testContext(t, 2*time.Minute), topic, h, transport.WithGroup("restarted"),
				transport.WithConcurrency(8), transport.WithDrainTimeout(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := start()
		c := newClient(t, e)
		ctx := testContext(t, 2*time.Minute)

		const n = 600
		var wg sync.WaitGroup
		var ok, failed atomic.Int64
		for i := range n {
			wg.Add(1)
			rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			c.Go(rctx, topic, &transport.Message{Payload: []byte(strconv.Itoa(i))}, func(rep *transport.Message, err error) {
				defer wg.Done()
				defer cancel()
				switch {
				case err != nil:
					failed.Add(1)
				case string(rep.Payload) != "re:"+strconv.Itoa(i):
					t.Errorf("request %d got the reply %q", i, rep.Payload)
				default:
					ok.Add(1)
				}
			})
		}
		for ok.Load() < n/4 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		s.Close()
		stopped := ok.Load()
		time.Sleep(50 * time.Millisecond)
		s = start()
		wg.Wait()
		s.Close()
		t.Logf("%d replies before the restart, %d in all, %d errors, %d dropped", stopped, ok.Load(), failed.Load(), c.Stats().Dropped)
		if stopped == n {
			t.Fatal("every request was answered before the server stopped: nothing was tested")
		}
		if ok.Load() == 0 {
			t.Fatal("no request got a reply")
		}
		if st := c.Stats(); st.Pending != 0 {
			t.Fatalf("%d requests pending at the end", st.Pending)
		}
	})
}

// TestClose: Close ends waiting requests with ErrClosed, and the client
// refuses new ones.
func TestClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		topic := e.topic(t, "")
		c, err := reply.NewClient(testContext(t, time.Minute), e.pub, e.sub)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		c.Go(testContext(t, time.Minute), topic, &transport.Message{}, func(_ *transport.Message, err error) { done <- err })
		for c.Stats().Pending == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		if e.exists != nil && !e.exists(t, c.ReplyTopic()) {
			t.Fatalf("reply topic %s does not exist", c.ReplyTopic())
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if e.exists != nil && e.exists(t, c.ReplyTopic()) {
			t.Fatalf("reply topic %s still exists after Close", c.ReplyTopic())
		}
		if err := <-done; !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("waiting request: %v, want ErrClosed", err)
		}
		if _, err := c.Request(context.Background(), topic, &transport.Message{}); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("Request after Close: %v, want ErrClosed", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestClientOutlivesItsContext: the context given to NewClient bounds only
// setting the client up; requests still work after it ended.
func TestClientOutlivesItsContext(t *testing.T) {
	e := openMemory(t)
	topic := e.topic(t, "g")
	serve(t, e, topic, "g", upper)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := reply.NewClient(ctx, e.pub, e.sub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cancel()
	rep, err := c.Request(testContext(t, time.Minute), topic, &transport.Message{Payload: []byte("x")})
	if err != nil || string(rep.Payload) != "re:x" {
		t.Fatalf("Request after NewClient's context ended: %v, %v", rep, err)
	}
}

// TestReplyTopicDeletedUnderneath: when the reply subscription ends on its
// own, waiting requests fail at once instead of at their deadline.
func TestReplyTopicDeletedUnderneath(t *testing.T) {
	e := openMemory(t)
	topic := e.topic(t, "")
	c := newClient(t, e)
	done := make(chan error, 1)
	c.Go(context.Background(), topic, &transport.Message{}, func(_ *transport.Message, err error) { done <- err })
	for c.Stats().Pending == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := transport.DeleteTopic(context.Background(), e.pub, c.ReplyTopic()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("request: %v, want ErrClosed", err)
	}
}

// TestGoRacingClose: Go and Close at the same time; every callback runs
// exactly once.
func TestGoRacingClose(t *testing.T) {
	e := openMemory(t)
	topic := e.topic(t, "g")
	serve(t, e, topic, "g", upper)
	c, err := reply.NewClient(testContext(t, time.Minute), e.pub, e.sub)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var calls atomic.Int64
	var wg sync.WaitGroup
	wg.Add(n)
	go func() {
		for i := range n {
			c.Go(context.Background(), topic, &transport.Message{Payload: []byte(strconv.Itoa(i))}, func(rep *transport.Message, err error) {
				defer wg.Done()
				calls.Add(1)
				if err == nil && string(rep.Payload) != "re:"+strconv.Itoa(i) {
					t.Errorf("request %d got %q", i, rep.Payload)
				}
				if err != nil && !errors.Is(err, transport.ErrClosed) {
					t.Errorf("request %d: %v", i, err)
				}
			})
		}
	}()
	time.Sleep(time.Millisecond)
	c.Close()
	wg.Wait()
	if calls.Load() != n {
		t.Fatalf("%d callbacks for %d requests", calls.Load(), n)
	}
}
