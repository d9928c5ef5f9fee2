package secure_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/brokerkit/brokerkit/middleware/secure"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// wire stands for a broker: it records what the publisher middleware send,
// and delivers it to a handler as a backend would (Topic set, Attempt 1).
type wire struct {
	mu   sync.Mutex
	sent []*transport.Message
}

func (w *wire) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	if err := driver.Prepare(ctx, topic, msgs, 0); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range msgs {
		c := m.Copy()
		c.Topic, c.Attempt = topic, 1
		w.sent = append(w.sent, c)
	}
	return nil
}

func (w *wire) Close() error { return nil }

func (w *wire) last(t *testing.T) *transport.Message {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sent) == 0 {
		t.Fatal("nothing published")
	}
	return w.sent[len(w.sent)-1].Copy()
}

var b64 = base64.StdEncoding.EncodeToString

func key(t testing.TB, id string) secure.Key {
	t.Helper()
	k, err := secure.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t testing.TB, keys ...secure.Key) *secure.Keyring {
	t.Helper()
	r, err := secure.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// receive runs m through mws to a handler and returns what the handler saw
// (nil when it was not called) and the chain's error.
func receive(m *transport.Message, mws ...transport.Middleware) (*transport.Message, error) {
	var got *transport.Message
	h := transport.Chain(func(_ context.Context, m *transport.Message) error {
		got = m
		return nil
	}, mws...)
	err := h(context.Background(), m)
	return got, err
}

func reasonOf(t *testing.T, err error) secure.Reason {
	t.Helper()
	var se *secure.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *secure.Error", err)
	}
	if transport.CodeOf(err) != transport.CodePermanent {
		t.Errorf("error %v is not Permanent", err)
	}
	return se.Reason
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := ring(t, key(t, "k1"))
	w := &wire{}
	seal := must[transport.PublisherMiddleware](t)(secure.Seal(r, secure.EncryptMetadata("customer")))
	open := must[transport.Middleware](t)(secure.Open(r))
	pub := transport.ChainPublisher(w, seal)

	orig := &transport.Message{Key: "c-7", Payload: []byte("card 4111 1111 1111 1111"),
		Metadata: transport.Metadata{"customer": "Zoë", "content-type": "text/plain", "empty": ""}}
	if err := pub.Publish(context.Background(), "payments", orig); err != nil {
		t.Fatal(err)
	}
	if orig.ID == "" {
		t.Error("the caller's message got no ID")
	}
	if string(orig.Payload) != "card 4111 1111 1111 1111" || len(orig.Metadata) != 3 {
		t.Errorf("the caller's message was changed: %q %v", orig.Payload, orig.Metadata)
	}
	onWire := w.last(t)
	if bytes.Contains(onWire.Payload, []byte("4111")) {
		t.Error("payload in clear on the wire")
	}
	if _, ok := onWire.Metadata["customer"]; ok {
		t.Error("encrypted header in clear on the wire")
	}
	for _, v := range onWire.Metadata {
		if strings.Contains(v, "Zoë") {
			t.Error("encrypted header's value in clear on the wire")
		}
	}
	if onWire.Metadata[secure.HeaderEncKeyID] != "k1" || onWire.Metadata[secure.HeaderEnc] != secure.SchemeAES256GCM {
		t.Errorf("envelope headers: %v", onWire.Metadata)
	}
	if onWire.ID != orig.ID {
		t.Errorf("wire ID %q, caller's %q", onWire.ID, orig.ID)
	}

	got, err := receive(onWire, open)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != string(orig.Payload) {
		t.Errorf("payload %q", got.Payload)
	}
	want := transport.Metadata{"customer": "Zoë", "content-type": "text/plain", "empty": ""}
	if len(got.Metadata) != len(want) {
		t.Errorf("metadata %v, want %v", got.Metadata, want)
	}
	for k, v := range want {
		if got.Metadata[k] != v {
			t.Errorf("metadata %q = %q, want %q", k, got.Metadata[k], v)
		}
	}
	if string(onWire.Payload) == string(got.Payload) || onWire.Metadata[secure.HeaderEnc] == "" {
		t.Error("Open changed the delivered message in place; outer middleware would see plaintext")
	}

	// Two seals of one message differ: a fresh nonce each time.
	again := &transport.Message{ID: orig.ID, Key: orig.Key, Payload: orig.Payload}
	_ = pub.Publish(context.Background(), "payments", again)
	if bytes.Equal(w.last(t).Payload[:12], onWire.Payload[:12]) {
		t.Error("nonce repeated")
	}
}

func TestEncryptAllMetadataKeepsTraceContextAndListed(t *testing.T) {
	r := ring(t, key(t, "k1"))
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r, secure.EncryptAllMetadata("correlation-id"))))
	m := &transport.Message{Payload: []byte("x"), Metadata: transport.Metadata{
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "correlation-id": "c1", "secret": "s", "content-type": "a/b"}}
	if err := pub.Publish(context.Background(), "t", m); err != nil {
		t.Fatal(err)
	}
	onWire := w.last(t)
	for _, k := range []string{"traceparent", "correlation-id", secure.HeaderEnc, secure.HeaderEncKeyID, secure.HeaderEncMetadata} {
		if _, ok := onWire.Metadata[k]; !ok {
			t.Errorf("%s not in clear", k)
		}
	}
	for _, k := range []string{"secret", "content-type"} {
		if _, ok := onWire.Metadata[k]; ok {
			t.Errorf("%s in clear", k)
		}
	}
	got, err := receive(onWire, must[transport.Middleware](t)(secure.Open(r)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata["secret"] != "s" || got.Metadata["content-type"] != "a/b" || len(got.Metadata) != 4 {
		t.Errorf("opened metadata %v", got.Metadata)
	}
}

// Every way of changing a sealed message in transit makes Open refuse it.
func TestOpenRefusesTampering(t *testing.T) {
	r := ring(t, key(t, "k1"))
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r, secure.EncryptMetadata("secret"))))
	m := &transport.Message{Key: "k", Payload: []byte("hello"), Metadata: transport.Metadata{"secret": "s"}}
	if err := pub.Publish(context.Background(), "orders", m); err != nil {
		t.Fatal(err)
	}
	open := must[transport.Middleware](t)(secure.Open(r))
	cases := []struct {
		name   string
		tamper func(m *transport.Message)
		reason secure.Reason
	}{
		{"payload bit", func(m *transport.Message) { m.Payload[len(m.Payload)-1] ^= 1 }, secure.ReasonTampered},
		{"nonce bit", func(m *transport.Message) { m.Payload[0] ^= 1 }, secure.ReasonTampered},
		{"truncated", func(m *transport.Message) { m.Payload = m.Payload[:10] }, secure.ReasonMalformed},
		{"other topic", func(m *transport.Message) { m.Topic = "refunds" }, secure.ReasonTampered},
		{"other ID", func(m *transport.Message) { m.ID = "replayed" }, secure.ReasonTampered},
		{"other key", func(m *transport.Message) { m.Key = "k2" }, secure.ReasonTampered},
		{"encrypted headers", func(m *transport.Message) {
			b := []byte(m.Metadata[secure.HeaderEncMetadata])
			b[len(b)/2] ^= 1
			m.Metadata[secure.HeaderEncMetadata] = string(b)
		}, ""}, // malformed base64 or failed authentication, depending on the bit
		{"headers swapped", func(m *transport.Message) {
			// the payload's ciphertext in place of the headers': parts are bound
			m.Metadata[secure.HeaderEncMetadata] = b64(m.Payload)
		}, secure.ReasonTampered},
		{"key ID", func(m *transport.Message) { m.Metadata[secure.HeaderEncKeyID] = "k9" }, secure.ReasonUnknownKey},
		{"scheme", func(m *transport.Message) { m.Metadata[secure.HeaderEnc] = "v2.aes-256-gcm" }, secure.ReasonUnsupported},
		{"envelope removed", func(m *transport.Message) { delete(m.Metadata, secure.HeaderEnc) }, secure.ReasonNotSealed},
		{"bad key ID", func(m *transport.Message) { m.Metadata[secure.HeaderEncKeyID] = "a b" }, secure.ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := w.last(t)
			c.tamper(d)
			got, err := receive(d, open)
			if got != nil {
				t.Fatal("tampered message reached the handler")
			}
			r := reasonOf(t, err)
			if c.reason != "" && r != c.reason {
				t.Errorf("reason %q, want %q (%v)", r, c.reason, err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	prod := ring(t, k1)
	cons := ring(t, k1)
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(prod)))
	open := must[transport.Middleware](t)(secure.Open(cons))
	publish := func() *transport.Message {
		if err := pub.Publish(context.Background(), "t", &transport.Message{Payload: []byte("p")}); err != nil {
			t.Fatal(err)
		}
		return w.last(t)
	}
	old := publish()

	// 1. consumers learn key 2; 2. producers seal with it.
	if err := cons.Add(k2); err != nil {
		t.Fatal(err)
	}
	if err := prod.Add(k2); err != nil {
		t.Fatal(err)
	}
	if err := prod.SetPrimary("k2"); err != nil {
		t.Fatal(err)
	}
	fresh := publish()
	if fresh.Metadata[secure.HeaderEncKeyID] != "k2" {
		t.Fatalf("sealed with %q after rotation", fresh.Metadata[secure.HeaderEncKeyID])
	}
	for _, m := range []*transport.Message{old, fresh} {
		if _, err := receive(m.Copy(), open); err != nil {
			t.Errorf("message sealed with %s: %v", m.Metadata[secure.HeaderEncKeyID], err)
		}
	}
	// 3. key 1 retired.
	if err := cons.SetPrimary("k2"); err != nil {
		t.Fatal(err)
	}
	if err := cons.Retire("k1"); err != nil {
		t.Fatal(err)
	}
	_, err := receive(old.Copy(), open)
	if r := reasonOf(t, err); r != secure.ReasonRetiredKey {
		t.Errorf("reason %q, want retired: %v", r, err)
	}
	if !strings.Contains(err.Error(), "retired") || !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("error does not say the key was retired: %v", err)
	}
	if _, err := receive(fresh.Copy(), open); err != nil {
		t.Errorf("key 2 after retiring key 1: %v", err)
	}
	if err := cons.Add(secure.Key{ID: "k1", Secret: k1.Secret}); err == nil {
		t.Error("a retired ID was accepted again")
	}
}

// Keys rotate while messages are sealed and opened on other goroutines: no
// race (go test -race), and no message fails.
func TestRotationUnderLoad(t *testing.T) {
	keys := []secure.Key{key(t, "k0"), key(t, "k1"), key(t, "k2"), key(t, "k3")}
	prod, cons := ring(t, keys[0]), ring(t, keys...)
	open := must[transport.Middleware](t)(secure.Open(cons))
	seal := must[transport.PublisherMiddleware](t)(secure.Seal(prod))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			h := open(func(context.Context, *transport.Message) error { return nil })
			pub := seal(transport.PublisherFunc(func(ctx context.Context, topic string, msgs ...*transport.Message) error {
				for _, m := range msgs {
					d := *m
					d.Topic = topic
					if err := h(ctx, &d); err != nil {
						return err
					}
				}
				return nil
			}))
			for range 200 {
				if err := pub.Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for _, k := range keys[1:] {
		if err := prod.Add(k); err != nil {
			t.Fatal(err)
		}
		if err := prod.SetPrimary(k.ID); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
