package middleware

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// recordingPublisher keeps what is published, or fails with err.
type recordingPublisher struct {
	mu   sync.Mutex
	err  error
	sent []published
}

type published struct {
	ctx   context.Context
	topic string
	msg   *transport.Message
}

func (p *recordingPublisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	for _, m := range msgs {
		p.sent = append(p.sent, published{ctx, topic, m})
	}
	return nil
}

func (p *recordingPublisher) Close() error { return nil }

func (p *recordingPublisher) all() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.sent...)
}

func TestDeadLetter(t *testing.T) {
	errBroken := errors.New("broken payload")
	errPublish := transport.NewError(transport.CodeUnavailable, "publish", errors.New("connection lost"))
	tests := []struct {
		name       string
		attempt    int
		handlerErr error
		publishErr error
		cancelled  bool
		wantErr    error // nil: acknowledged
		wantDead   bool
	}{
		{"success", 9, nil, nil, false, nil, false},
		{"early failure is redelivered", 2, errBroken, nil, false, errBroken, false},
		{"failure at the limit is dead-lettered", 3, errBroken, nil, false, nil, true},
		{"failure past the limit is dead-lettered", 7, errBroken, nil, false, nil, true},
		{"permanent error is dead-lettered at once", 1, transport.Permanent(errBroken), nil, false, nil, true},
		{"backend without attempt counts", 0, errBroken, nil, false, errBroken, false},
		{"failed dead-letter publish is not acknowledged", 3, errBroken, errPublish, false, transport.ErrUnavailable, false},
		{"closing subscription is no reason to dead-letter", 3, errBroken, nil, true, errBroken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recordingPublisher{err: tt.publishErr}
			mw, err := DeadLetter(pub, DeadLetterAfter(3))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancelled {
				cancel()
			}
			defer cancel()
			m := &transport.Message{ID: "id-1", Key: "k", Payload: []byte("p"), Topic: "orders", Attempt: tt.attempt,
				Metadata: transport.Metadata{"h": "v"}}
			err = mw(func(context.Context, *transport.Message) error { return tt.handlerErr })(ctx, m)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := len(pub.all()); got != map[bool]int{true: 1}[tt.wantDead] {
				t.Errorf("%d messages dead-lettered", got)
			}
			if tt.publishErr != nil {
				var de *DeadLetterError
				if !errors.As(err, &de) || !errors.Is(de.Cause, errBroken) || de.Topic != "orders.dlq" {
					t.Errorf("err = %#v, want a *DeadLetterError with the handler's cause", err)
				}
			}
			if len(m.Metadata) != 1 {
				t.Errorf("original metadata changed: %v", m.Metadata)
			}
		})
	}
}

func TestDeadLetterMessage(t *testing.T) {
	pub := &recordingPublisher{}
	when := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600))
	mw, err := DeadLetter(pub, DeadLetterAfter(2), DeadLetterTopic(func(t string) string { return "dead." + t }),
		func(c *deadLetterConfig) error { c.now = func() time.Time { return when }; return nil })
	if err != nil {
		t.Fatal(err)
	}
	m := &transport.Message{ID: "id-7", Key: "key-7", Payload: []byte{0, 1, 2}, Topic: "orders", Attempt: 2,
		Metadata: transport.Metadata{"trace": "t", "empty": ""}}
	long := strings.Repeat("é", 1000) // 2000 bytes: cut at 1 KiB without splitting a rune
	if err := mw(func(context.Context, *transport.Message) error { return errors.New(long) })(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	sent := pub.all()
	if len(sent) != 1 || sent[0].topic != "dead.orders" {
		t.Fatalf("sent %v, want one message to dead.orders", sent)
	}
	d := sent[0].msg
	if d.ID != m.ID || d.Key != m.Key || string(d.Payload) != string(m.Payload) {
		t.Errorf("dead-lettered message %+v differs from the original", d)
	}
	want := map[string]string{
		"trace": "t", "empty": "",
		MetaDLQTopic: "orders", MetaDLQAttempt: "2", MetaDLQTime: "2026-03-04T04:06:07.00000089Z",
		MetaDLQReason: strings.Repeat("é", 512),
	}
	for k, v := range want {
		if got, ok := d.Metadata[k]; !ok || got != v {
			t.Errorf("metadata %q = %.40q, want %.40q", k, got, v)
		}
	}
	if len(d.Metadata) != len(want) {
		t.Errorf("metadata %v has extra keys", d.Metadata)
	}
}

func TestDeadLetterOptionsValidated(t *testing.T) {
	pub := &recordingPublisher{}
	if _, err := DeadLetter(nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("nil publisher: err = %v", err)
	}
	for name, opt := range map[string]DeadLetterOption{
		"after": DeadLetterAfter(0),
		"topic": DeadLetterTopic(nil),
		"if":    DeadLetterIf(nil),
		"nil":   nil,
	} {
		if _, err := DeadLetter(pub, opt); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
