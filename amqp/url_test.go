package amqp_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, dial string
		opts     int
	}{
		{"amqp://guest:guest@localhost:5672/", "amqp://guest:guest@localhost:5672/", 0},
		{"amqps://u:p@host/vh?cacertfile=/ca.pem&server_name_indication=broker", "amqps://u:p@host/vh?cacertfile=%2Fca.pem&server_name_indication=broker", 0},
		{"amqp://h/?heartbeat=5&connection_timeout=2000&channel_max=100&auth_mechanism=plain", "amqp://h/?auth_mechanism=plain&channel_max=100&connection_timeout=2000&heartbeat=5", 0},
		{"amqp://h/?exchange_type=fanout&quorum=true&binding_key=a.%2A", "amqp://h/", 3},
		{"amqp://h/?dead_letter_exchange=dlx&dead_letter_routing_key=dead&message_ttl=30s&max_length=10", "amqp://h/", 3},
		{"amqp://h/?confirms=true&mandatory=true&persistent=false&timestamp_ms=true&channels=2&confirm_window=64&max_payload=1000&prefetch=5", "amqp://h/", 8},
		{"amqp://h/?connection_name=svc&reconnect_min=10ms&reconnect_max=1s&existing=true", "amqp://h/", 3},
		{"amqp://h/?quorum=false&existing=false", "amqp://h/", 0},
		{"amqp://h/vh#frag", "amqp://h/vh", 0},
	} {
		u, err := url.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		dial, opts, err := amqp.ParseURL(u)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if dial.String() != c.dial {
			t.Errorf("%s: dials %s, want %s", c.in, dial, c.dial)
		}
		if len(opts) != c.opts {
			t.Errorf("%s: %d options, want %d", c.in, len(opts), c.opts)
		}
	}
}

// TestOpenByURL: the registered schemes reach this package, and the URL's
// options apply (a fanout exchange delivers whatever the binding key).
func TestOpenByURL(t *testing.T) {
	e := newEnv(t)
	raw := e.url + "?exchange_type=fanout&binding_key=ignored&prefetch=4"
	if strings.Contains(e.url, "?") {
		raw = e.url + "&exchange_type=fanout&binding_key=ignored&prefetch=4"
	}
	pub, err := transport.OpenPublisher(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := transport.OpenSubscriber(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	topic := e.names.topic()
	c := transporttest.NewCollector(nil)
	s, err := sub.Subscribe(ctxFor(t), topic, c.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := pub.Publish(ctxFor(t), topic, &transport.Message{Key: "whatever", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	c.WaitAll(t, 1, wait)
	// The exchange really is a fanout: declaring it as one succeeds.
	if err := e.admin.do(t, func(ch *amqp091.Channel) error {
		return ch.ExchangeDeclare(topic, "fanout", true, false, false, false, nil)
	}); err != nil {
		t.Errorf("the exchange is not a durable fanout: %v", err)
	}
}

// FuzzParseURL: no URL makes ParseURL panic, and no error shows the
// password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"amqp://guest:guest@localhost:5672/",
		"amqps://u:p@h:5671/vh?cacertfile=/x&quorum=true",
		"amqp://h/?exchange_type=x-delayed-message&message_ttl=1s&max_length=3",
		"amqp://h/?heartbeat=99999",
		"amqp://:@/?bogus",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if u.User != nil {
			u.User = url.UserPassword(u.User.Username(), "Fuzz-Secret-42")
		}
		dial, _, err := amqp.ParseURL(u)
		if err != nil {
			if strings.Contains(err.Error(), "Fuzz-Secret-42") {
				t.Fatalf("the error shows the password: %v", err)
			}
			return
		}
		if dial.Scheme != "amqp" && dial.Scheme != "amqps" {
			t.Fatalf("accepted scheme %q", dial.Scheme)
		}
	})
}

// FuzzDecodeHeaders: any headers map onto Metadata without a panic, and
// string headers come back unchanged.
func FuzzDecodeHeaders(f *testing.F) {
	f.Add("k", "v", int64(0), []byte("b"), true)
	f.Add("timestamp_in_ms", "x", int64(1700000000000), []byte{}, false)
	f.Add("x-delivery-count", "", int64(-1), []byte(nil), true)
	f.Fuzz(func(t *testing.T, key, value string, n int64, b []byte, redelivered bool) {
		d := &amqp091.Delivery{
			Headers: amqp091.Table{
				key:                value,
				"n":                n,
				"b":                b,
				"timestamp_in_ms":  n,
				"x-delivery-count": n,
				"nested":           amqp091.Table{"a": value},
				"list":             []any{value, n},
				"when":             time.Unix(n%1e10, 0),
			},
			Redelivered: redelivered,
			Body:        b,
		}
		m := amqp.Decode("topic", d)
		if m.ID == "" {
			t.Fatal("no ID derived")
		}
		if m.Attempt < 1 {
			t.Fatalf("attempt %d", m.Attempt)
		}
		switch key {
		case "n", "b", "timestamp_in_ms", "x-delivery-count", "nested", "list", "when":
		default:
			if got := m.Metadata.Get(key); got != value {
				t.Fatalf("header %q = %q came back as %q", key, value, got)
			}
		}
		if again := amqp.Decode("topic", d); again.ID != m.ID {
			t.Fatalf("derived ID changed: %s then %s", m.ID, again.ID)
		}
	})
}

// TestOpenByURLWithLogger: a client opened by URL logs through the logger
// given to transport.OpenPublisher, without the password.
func TestOpenByURLWithLogger(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pub, err := transport.OpenPublisher(context.Background(), "amqp://guest:log-s3cret@127.0.0.1:1/", transport.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := pub.Publish(ctx, "t", &transport.Message{}); err == nil {
		t.Fatal("publish to a closed port succeeded")
	}
	if !strings.Contains(logs.String(), "connecting failed") {
		t.Errorf("nothing logged through the URL's logger:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "log-s3cret") {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}
