package amqp_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// cutter is a TCP proxy in front of the broker, run in the test process,
// that can cut every connection through it.
type cutter struct {
	proxy *toxiproxy.Proxy
	url   string // the broker URL, through the proxy
}

func newCutter(t *testing.T, brokerURL string) *cutter {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	upstream := u.Host
	if u.Port() == "" {
		upstream += ":5672"
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "amqp-"+t.Name(), "127.0.0.1:0", upstream)
	if err := srv.Collection.Add(proxy, true); err != nil {
		t.Fatalf("starting the proxy: %v", err)
	}
	t.Cleanup(func() { srv.Collection.Clear() })
	u.Host = proxy.Listen // the address it bound
	return &cutter{proxy: proxy, url: u.String()}
}

// cut drops every connection and refuses new ones for down.
func (c *cutter) cut(t *testing.T, down time.Duration) {
	c.proxy.Stop()
	time.Sleep(down)
	if err := c.proxy.Start(); err != nil {
		t.Errorf("restarting the proxy: %v", err)
	}
}

// TestConnectionCuts cuts every connection three times while 5,000 messages
// flow, and checks that each message whose Publish returned nil was handled
// at least once: publishers and subscriptions reconnect by themselves, lost
// confirms are errors, and settling deliveries of dead channels is harmless.
func TestConnectionCuts(t *testing.T) {
	e := newEnv(t)
	proxy := newCutter(t, e.url)
	backoff := amqp.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond)
	pub, err := amqp.NewPublisher(proxy.url, backoff)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := amqp.NewSubscriber(proxy.url, backoff, amqp.WithQueueName(e.names.queueName))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	topic, group := e.names.topic(), e.names.group()
	var (
		mu       sync.Mutex
		received = map[string]int{}
		change   = make(chan struct{}, 1)
	)
	s, err := sub.Subscribe(ctxFor(t), topic, func(ctx context.Context, m *transport.Message) error {
		time.Sleep(100 * time.Microsecond) // keep a few deliveries in flight across a cut
		mu.Lock()
		received[m.ID]++
		mu.Unlock()
		select {
		case change <- struct{}{}:
		default:
		}
		return nil
	}, transport.WithGroup(group), transport.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const total, publishers, batch, cuts = 5000, 4, 5, 3
	var (
		sent      atomic.Int64
		confirmed sync.Map // ID → struct{}
		nConfirm  atomic.Int64
		failures  atomic.Int64
		next      atomic.Int64
		cutsDone  = make(chan struct{})
	)
	// Cut when a quarter, half and three quarters of the messages are sent.
	go func() {
		defer close(cutsDone)
		for i := 1; i <= cuts; i++ {
			for sent.Load() < int64(i*total/(cuts+1)) {
				time.Sleep(time.Millisecond)
			}
			proxy.cut(t, 200*time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := next.Add(batch) - batch
				if start >= total {
					return
				}
				msgs := make([]*transport.Message, 0, batch)
				for i := start; i < min(start+batch, total); i++ {
					msgs = append(msgs, &transport.Message{Key: fmt.Sprintf("k%d", i%8), Payload: fmt.Appendf(nil, "m%d", i)})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := pub.Publish(ctx, topic, msgs...)
				cancel()
				sent.Add(int64(len(msgs)))
				if err != nil {
					failures.Add(1)
					continue
				}
				for _, m := range msgs {
					confirmed.Store(m.ID, struct{}{})
				}
				nConfirm.Add(int64(len(msgs)))
				time.Sleep(time.Millisecond) // let the flow span the cuts
			}
		}()
	}
	wg.Wait()
	<-cutsDone

	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		confirmed.Range(func(id, _ any) bool {
			if received[id.(string)] == 0 {
				n++
			}
			return true
		})
		return n
	}
	deadline := time.After(60 * time.Second)
	for missing() > 0 {
		select {
		case <-change:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d confirmed messages were never handled", missing())
		}
	}
	mu.Lock()
	distinct, dups := len(received), 0
	for _, n := range received {
		dups += n - 1
	}
	mu.Unlock()
	t.Logf("sent %d, confirmed %d (failed publish calls: %d), received %d distinct, duplicates %d",
		sent.Load(), nConfirm.Load(), failures.Load(), distinct, dups)
	if nConfirm.Load() == 0 {
		t.Fatal("no publish succeeded")
	}
	if err := s.Err(); err != nil {
		t.Errorf("the subscription ended: %v", err)
	}
}

// TestSettleAfterConnectionLoss: a delivery whose connection died while its
// handler ran is not acked anywhere (its tag meant something only on the
// dead channel): the broker delivers it again, with the same ID, on the
// resumed subscription.
func TestSettleAfterConnectionLoss(t *testing.T) {
	e := newEnv(t)
	proxy := newCutter(t, e.url)
	backoff := amqp.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond)
	pub := e.publisher(t)
	sub, err := amqp.NewSubscriber(proxy.url, backoff, amqp.WithQueueName(e.names.queueName))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	topic := e.names.topic()
	holding := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, func(ctx context.Context, m *transport.Message) error {
		if calls.Add(1) == 1 {
			close(holding)
			<-release // the connection dies meanwhile
		}
		return c.Handle(ctx, m)
	}, transport.WithGroup(e.names.group()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := &transport.Message{Payload: []byte("held across a cut")}
	if err := pub.Publish(ctxFor(t), topic, msg); err != nil {
		t.Fatal(err)
	}
	<-holding
	proxy.cut(t, 100*time.Millisecond)
	close(release) // settles on the dead channel
	got := c.WaitAll(t, 2, wait)
	for i, m := range got {
		if m.ID != msg.ID {
			t.Errorf("delivery %d has ID %s, want %s", i+1, m.ID, msg.ID)
		}
	}
	if got[1].Attempt != 2 {
		t.Errorf("the redelivery has attempt %d, want 2", got[1].Attempt)
	}
	if err := s.Err(); err != nil {
		t.Errorf("the subscription ended: %v", err)
	}
}

// TestQueueDeletedUnderSubscription: when the broker cancels the consumer
// (its queue was deleted), the subscription declares its topology again
// and goes on.
func TestQueueDeletedUnderSubscription(t *testing.T) {
	e := newEnv(t)
	pub := e.publisher(t)
	sub := e.subscriber(t, amqp.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond))
	topic, group := e.names.topic(), e.names.group()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	c.WaitAll(t, 1, wait)
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		_, err := ch.QueueDelete(amqp.DefaultQueueName(topic, group), false, false, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Publish until the recreated queue is bound again and a message lands.
	deadline := time.Now().Add(wait)
	for {
		if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("after")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if len(c.Messages()) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not resume after its queue was deleted")
		}
	}
	if err := s.Err(); err != nil {
		t.Errorf("the subscription ended: %v", err)
	}
}
