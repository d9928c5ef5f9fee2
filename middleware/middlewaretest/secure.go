package middlewaretest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/secure"
	"github.com/brokerkit/brokerkit/transport"
)

// SecureEnvelope runs encrypted and signed messages through the broker:
// publisher chain Seal, Sign (Ed25519); handler chain DeadLetter, Retry,
// Verify, Open. Good messages reach the handler in clear with their
// metadata; every tampered or unacceptable one (payload, signed header,
// copied to another topic, replayed under another ID, sealed with an
// unknown or a wrong key, not signed) reaches the dead-letter topic after
// one attempt, with the reason, and never the handler. Then keys rotate:
// with key 2 primary, messages sealed with key 1 or key 2 both open; with
// key 1 retired, a message sealed with it is refused as retired.
func SecureEnvelope(t *testing.T, h Harness) {
	const secretText = "card 4111 1111 1111 1111"
	topic, copyTopic, dlqTopic := h.NewTopic(t), h.NewTopic(t), h.NewTopic(t)
	pub := h.publisher(t)
	sub := h.subscriber(t)

	newKey := func(id string) secure.Key {
		k, err := secure.GenerateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	newRing := func(keys ...secure.Key) *secure.Keyring {
		r, err := secure.NewKeyring(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k1, k2 := newKey("enc-1"), newKey("enc-2")
	producerRing, consumerRing := newRing(k1), newRing(k1)
	signRing := newRing(newKey("sig-1"))
	trusted, err := secure.PublicKeys(signRing)
	if err != nil {
		t.Fatal(err)
	}

	// seal returns m as the producer would put it on the wire to topic, by
	// the rings given: sealed, then signed.
	seal := func(encRing *secure.Keyring, topic string, m *transport.Message) *transport.Message {
		t.Helper()
		s, err := secure.Seal(encRing, secure.EncryptMetadata("customer"))
		if err != nil {
			t.Fatal(err)
		}
		g, err := secure.Sign(secure.Ed25519, signRing)
		if err != nil {
			t.Fatal(err)
		}
		var out *transport.Message
		capture := transport.PublisherFunc(func(_ context.Context, _ string, msgs ...*transport.Message) error {
			out = msgs[0].Copy()
			return nil
		})
		if err := transport.ChainPublisher(capture, s, g).Publish(context.Background(), topic, m); err != nil {
			t.Fatal(err)
		}
		return out
	}
	msg := func(n string) *transport.Message {
		return &transport.Message{Key: "customer-7", Payload: []byte(secretText),
			Metadata: transport.Metadata{"n": n, "customer": "Zoë", "content-type": "text/plain"}}
	}

	var mu sync.Mutex
	dead := map[string]*transport.Message{} // by ID
	handled := map[string]*transport.Message{}
	refusals := map[secure.Reason]int{}
	h.subscribe(t, sub, dlqTopic, h.NewGroup(t), func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		dead[m.ID] = m.Copy()
		mu.Unlock()
		return nil
	})
	dlq, err := middleware.DeadLetter(pub, middleware.DeadLetterTopic(func(string) string { return dlqTopic }))
	if err != nil {
		t.Fatal(err)
	}
	retry, err := middleware.Retry(middleware.RetryMaxAttempts(3))
	if err != nil {
		t.Fatal(err)
	}
	verify, err := secure.Verify(secure.Ed25519, trusted, secure.OnFailure(func(_ context.Context, e *secure.Error) {
		mu.Lock()
		refusals[e.Reason]++
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	open, err := secure.Open(consumerRing, secure.OnFailure(func(_ context.Context, e *secure.Error) {
		mu.Lock()
		refusals[e.Reason]++
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	handle := func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		handled[m.ID] = m.Copy()
		mu.Unlock()
		return nil
	}
	chain := transport.Chain(handle, dlq, retry, verify, open)
	h.subscribe(t, sub, topic, h.NewGroup(t), chain)
	h.subscribe(t, sub, copyTopic, h.NewGroup(t), chain)

	ctx, cancel := contextWithTimeout(h.Timeout)
	defer cancel()
	send := func(topic string, m *transport.Message) {
		t.Helper()
		if err := pub.Publish(ctx, topic, m); err != nil {
			t.Fatalf("publish to %s: %v", topic, err)
		}
	}
	waitHandled := func(ids ...string) {
		t.Helper()
		h.waitFor(t, "the good messages handled", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if handled[id] == nil {
					return false
				}
			}
			return true
		})
	}

	// Good and tampered messages. The wire form is what an attacker with
	// access to the broker sees and may change.
	good := seal(producerRing, topic, msg("good-1"))
	want := map[string]secure.Reason{} // refused message ID → reason
	tamper := func(n string, reason secure.Reason, topicOnWire string, change func(m *transport.Message)) {
		m := seal(producerRing, topic, msg(n))
		change(m)
		want[m.ID] = reason
		send(topicOnWire, m)
	}
	send(topic, good.Copy())
	tamper("payload", secure.ReasonBadSignature, topic, func(m *transport.Message) { m.Payload[len(m.Payload)-1] ^= 1 })
	tamper("header", secure.ReasonBadSignature, topic, func(m *transport.Message) { m.Metadata["n"] = "forged" })
	tamper("topic", secure.ReasonBadSignature, copyTopic, func(*transport.Message) {})
	tamper("id", secure.ReasonBadSignature, topic, func(m *transport.Message) { m.ID += "-replayed" })
	unknown := seal(newRing(newKey("enc-9")), topic, msg("unknown-key"))
	want[unknown.ID] = secure.ReasonUnknownKey
	send(topic, unknown)
	wrong := seal(newRing(secure.Key{ID: "enc-1", Secret: k2.Secret}), topic, msg("wrong-key"))
	want[wrong.ID] = secure.ReasonTampered
	send(topic, wrong)
	plain := msg("unsigned")
	send(topic, plain)
	want[plain.ID] = secure.ReasonNotSigned
	waitHandled(good.ID)

	// Rotation: consumers add key 2, producers seal with it; messages
	// sealed with key 1 or 2 open.
	if err := consumerRing.Add(k2); err != nil {
		t.Fatal(err)
	}
	oldLate := seal(producerRing, topic, msg("key-1-late"))     // sealed before the switch, sent after
	oldRetired := seal(producerRing, topic, msg("key-1-stale")) // sent after key 1 is retired
	if err := producerRing.Add(k2); err != nil {
		t.Fatal(err)
	}
	if err := producerRing.SetPrimary("enc-2"); err != nil {
		t.Fatal(err)
	}
	fresh := seal(producerRing, topic, msg("key-2"))
	if fresh.Metadata.Get(secure.HeaderEncKeyID) != "enc-2" {
		t.Fatalf("sealed with %q after rotation", fresh.Metadata.Get(secure.HeaderEncKeyID))
	}
	send(topic, fresh)
	send(topic, oldLate)
	waitHandled(fresh.ID, oldLate.ID)

	// Key 1 retired: its messages are refused as such.
	if err := consumerRing.SetPrimary("enc-2"); err != nil {
		t.Fatal(err)
	}
	if err := consumerRing.Retire("enc-1"); err != nil {
		t.Fatal(err)
	}
	send(topic, oldRetired)
	want[oldRetired.ID] = secure.ReasonRetiredKey

	h.waitFor(t, "every refused message on the dead-letter topic", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range want {
			if dead[id] == nil {
				return false
			}
		}
		return true
	})

	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{good.ID, fresh.ID, oldLate.ID} {
		m := handled[id]
		if string(m.Payload) != secretText || m.Metadata.Get("customer") != "Zoë" || m.Metadata.Get("content-type") != "text/plain" {
			t.Errorf("handled %q with %v, want the plaintext and its metadata", m.Payload, m.Metadata)
		}
		for k := range m.Metadata {
			if strings.HasPrefix(k, "bk-") {
				t.Errorf("envelope header %s reached the handler", k)
			}
		}
	}
	wantReasons := map[secure.Reason]int{}
	for id, reason := range want {
		wantReasons[reason]++
		if handled[id] != nil {
			t.Errorf("refused message %s (%s) reached the handler", id, reason)
		}
		d := dead[id]
		if got := d.Metadata.Get(middleware.MetaDLQReason); !strings.Contains(got, string(reason)) {
			t.Errorf("message %s dead-lettered with reason %q, want %q", id, got, reason)
		}
		if got := d.Metadata.Get(middleware.MetaDLQAttempt); got != "1" {
			t.Errorf("message %s dead-lettered at attempt %s, want 1", id, got)
		}
		if strings.Contains(string(d.Payload), secretText[:8]) && reason != secure.ReasonNotSigned {
			t.Errorf("message %s dead-lettered in clear", id)
		}
	}
	if d := dead[want2ID(want, secure.ReasonBadSignature, dead, copyTopic)]; d == nil {
		t.Errorf("no message copied to %s was dead-lettered from there", copyTopic)
	}
	for reason, n := range wantReasons {
		if refusals[reason] != n {
			t.Errorf("%d refusals for %q, want %d (one per message: never retried)", refusals[reason], reason, n)
		}
	}
	if len(handled) != 3 {
		t.Errorf("%d messages handled, want 3", len(handled))
	}
}

// want2ID finds the refused message that was dead-lettered from topic.
func want2ID(want map[string]secure.Reason, reason secure.Reason, dead map[string]*transport.Message, topic string) string {
	for id, r := range want {
		if r == reason && dead[id] != nil && dead[id].Metadata.Get(middleware.MetaDLQTopic) == topic {
			return id
		}
	}
	return ""
}
