package amqp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

func TestAddressLists(t *testing.T) {
	for _, c := range []struct {
		in   string
		opts []amqp.PublisherOption
		want []string
	}{
		{"amqp://u:p@h1:5672,h2:5673,h3/vh", nil, []string{"h1:5672", "h2:5673", "h3:5672"}},
		{"amqps://u:p@h1,h2:5000/", nil, []string{"h1:5671", "h2:5000"}},
		{"amqp://u:p@localhost/", nil, []string{"localhost:5672"}},
		{"amqp://u:p@ignored/vh", []amqp.PublisherOption{amqp.WithAddresses("a:1", "b", "[::1]:5680")},
			[]string{"a:1", "b:5672", "[::1]:5680"}},
		{"amqp://u:p@h1,h2,h3/?shuffle=false", nil, []string{"h1:5672", "h2:5672", "h3:5672"}},
	} {
		p, err := amqp.NewPublisher(c.in, c.opts...)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := amqp.Targets(p); !slices.Equal(got, c.want) {
			t.Errorf("%s: dials %v, want %v", c.in, got, c.want)
		}
		p.Close()
	}
}

func TestShuffledAddresses(t *testing.T) {
	const raw = "amqp://u:p@h0,h1,h2,h3,h4,h5,h6,h7/?shuffle=true"
	seen := map[string]bool{}
	for range 20 {
		p, err := amqp.NewPublisher(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := amqp.Targets(p)
		p.Close()
		sorted := slices.Sorted(slices.Values(got))
		if !slices.Equal(sorted, []string{"h0:5672", "h1:5672", "h2:5672", "h3:5672", "h4:5672", "h5:5672", "h6:5672", "h7:5672"}) {
			t.Fatalf("shuffled list %v is not a permutation of the hosts", got)
		}
		seen[strings.Join(got, ",")] = true
	}
	// 20 draws of 8! orders: a single order means no shuffle.
	if len(seen) < 2 {
		t.Errorf("20 publishers all dial in the order %v", seen)
	}
}

func TestBadAddressLists(t *testing.T) {
	for _, c := range []struct {
		in   string
		opts []amqp.PublisherOption
	}{
		{"amqp://u:p@h1,,h2/", nil},
		{"amqp://u:p@h1,/", nil},
		{"amqp://u:p@h1,h2:99999/", nil},
		{"amqp://u:p@h1,h2:0/", nil},
		{"amqp://u:p@h1/?shuffle=maybe", nil},
		{"amqp://u:p@h1/", []amqp.PublisherOption{amqp.WithAddresses()}},
		{"amqp://u:p@h1/", []amqp.PublisherOption{amqp.WithAddresses("a", "")}},
		{"amqp://u:p@h1/", []amqp.PublisherOption{amqp.WithAddresses("a/b")}},
		{"amqp://u:p@h1/", []amqp.PublisherOption{amqp.WithAddresses("a:b:c")}},
		{"amqp://u:p@h1/", []amqp.PublisherOption{amqp.WithAddresses("user:pw@a")}},
	} {
		p, err := amqp.NewPublisher(c.in, c.opts...)
		if err == nil {
			p.Close()
			t.Errorf("%s %d options: accepted", c.in, len(c.opts))
			continue
		}
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.in, err)
		}
		if strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: the error shows the password: %v", c.in, err)
		}
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// withHosts returns brokerURL with its host replaced by hosts.
func withHosts(t *testing.T, brokerURL string, hosts ...string) string {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = strings.Join(hosts, ",")
	return u.String()
}

func hostOf(t *testing.T, brokerURL string) string {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return u.Host + ":5672"
	}
	return u.Host
}

// TestFirstAddressDown: with a closed port first in the list, publishers
// and subscribers connect to the second address and work.
func TestFirstAddressDown(t *testing.T) {
	e := newEnv(t)
	down, up := closedPort(t), hostOf(t, e.url)
	raw := withHosts(t, e.url, down, up)
	pub, err := amqp.NewPublisher(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := amqp.NewSubscriber(raw, amqp.WithQueueName(e.names.queueName))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	topic := e.names.topic()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle, transport.WithGroup(e.names.group()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("via the second address")}); err != nil {
		t.Fatal(err)
	}
	c.WaitAll(t, 1, wait)
	if got := amqp.ConnectedAddr(pub); got != up {
		t.Errorf("the publisher is connected to %q, want %q", got, up)
	}
	if got := amqp.SubscriberAddr(sub); got != up {
		t.Errorf("the subscriber is connected to %q, want %q", got, up)
	}
}

// TestNoAddressAnswers: the error names every address tried, and neither
// it nor the log shows the password.
func TestNoAddressAnswers(t *testing.T) {
	a, b := closedPort(t), closedPort(t)
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pub, err := amqp.NewPublisher("amqp://guest:Pw-s3cret-9@"+a+","+b+"/", amqp.WithLogger(logger),
		amqp.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = pub.Publish(ctx, "t", &transport.Message{})
	if err == nil {
		t.Fatal("publish with no broker succeeded")
	}
	msg := err.Error()
	for _, addr := range []string{a, b} {
		if !strings.Contains(msg, addr) {
			t.Errorf("the error does not name %s: %v", addr, err)
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the error does not say the context ended: %v", err)
	}
	if transport.CodeOf(err) != transport.CodeUnavailable {
		t.Errorf("code %v, want unavailable: %v", transport.CodeOf(err), err)
	}
	if strings.Contains(msg, "Pw-s3cret-9") || strings.Contains(logs.String(), "Pw-s3cret-9") {
		t.Errorf("the password shows:\nerror: %v\nlog: %s", err, logs.String())
	}
}

// TestFailoverToNextAddress: two addresses lead to the broker through two
// proxies; when the first one's proxy goes down for good (a node dies),
// the publisher and the subscription move to the second and go on: every
// message whose Publish returned nil is handled.
func TestFailoverToNextAddress(t *testing.T) {
	e := newEnv(t)
	first, second := newCutter(t, e.url), newCutter(t, e.url)
	raw := withHosts(t, e.url, hostOf(t, first.url), hostOf(t, second.url))
	backoff := amqp.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond)
	pub, err := amqp.NewPublisher(raw, backoff)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := amqp.NewSubscriber(raw, backoff, amqp.WithQueueName(e.names.queueName))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	topic := e.names.topic()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle, transport.WithGroup(e.names.group()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var confirmed []string
	var failed atomic.Int32
	publish := func(i int) {
		m := &transport.Message{Payload: []byte{byte(i)}}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := pub.Publish(ctx, topic, m); err != nil {
			failed.Add(1) // a confirm lost in the cut: allowed, not counted
			return
		}
		confirmed = append(confirmed, m.ID)
	}
	for i := range 20 {
		publish(i)
	}
	c.WaitAll(t, len(confirmed), wait)
	if got, want := amqp.ConnectedAddr(pub), hostOf(t, first.url); got != want {
		t.Fatalf("before the cut the publisher is on %q, want the first address %q", got, want)
	}
	first.proxy.Stop() // cuts every connection and refuses new ones, for good
	for i := 20; i < 60; i++ {
		publish(i)
	}
	deadline := time.Now().Add(wait)
	for _, id := range confirmed {
		for c.Count(id) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("confirmed message %s was never handled (%d confirmed, %d handled)", id, len(confirmed), c.Distinct())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if addr, want := amqp.ConnectedAddr(pub), hostOf(t, second.url); addr != want {
		t.Errorf("after the cut the publisher is on %q, want %q", addr, want)
	}
	if addr, want := amqp.SubscriberAddr(sub), hostOf(t, second.url); addr != want {
		t.Errorf("after the cut the subscriber is on %q, want %q", addr, want)
	}
	if err := s.Err(); err != nil {
		t.Errorf("the subscription ended: %v", err)
	}
	t.Logf("%d confirmed, %d publish calls failed in the cut", len(confirmed), failed.Load())
}

// TestNackRetiresChannel: after a nack (here from a full queue with
// x-overflow=reject-publish) the publisher replaces the channel, so that a
// channel the broker keeps nacking on is not used again.
func TestNackRetiresChannel(t *testing.T) {
	for _, mandatory := range []bool{false, true} {
		t.Run(fmt.Sprint("mandatory=", mandatory), func(t *testing.T) {
			e := newEnv(t)
			pub := e.publisher(t, amqp.WithChannels(1), amqp.WithMandatory(mandatory))
			topic := e.names.topic()
			q := e.names.queueName(topic, e.names.group())
			if err := e.admin.do(t, func(ch *amqp091.Channel) error {
				if err := ch.ExchangeDeclare(topic, "topic", true, false, false, false, nil); err != nil {
					return err
				}
				if _, err := ch.QueueDeclare(q, false, false, false, false,
					amqp091.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}); err != nil {
					return err
				}
				return ch.QueueBind(q, "#", topic, false, nil)
			}); err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("fills the queue")}); err != nil {
				t.Fatal(err)
			}
			before := amqp.Channels(pub)[0]
			err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("nacked")})
			if !errors.Is(err, transport.ErrNotConfirmed) {
				t.Fatalf("publish to a full reject-publish queue: %v, want ErrNotConfirmed", err)
			}
			deadline := time.Now().Add(wait)
			for !before.(*amqp091.Channel).IsClosed() {
				if time.Now().After(deadline) {
					t.Fatal("the channel that had a nack is still open")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := e.admin.do(t, func(ch *amqp091.Channel) error { _, err := ch.QueuePurge(q, false); return err }); err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctxFor(t), topic, &transport.Message{Payload: []byte("after")}); err != nil {
				t.Fatalf("publish after the nack: %v", err)
			}
			if after := amqp.Channels(pub)[0]; after == before {
				t.Error("the publisher still publishes on the channel that had a nack")
			}
		})
	}
}
