package secure_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/secure"
	"github.com/brokerkit/brokerkit/transport"
)

func TestSignVerify(t *testing.T) {
	for _, alg := range []secure.Algorithm{secure.Ed25519, secure.HMACSHA256} {
		t.Run(string(alg), func(t *testing.T) {
			signing := ring(t, key(t, "s1"))
			verifying := signing
			if alg == secure.Ed25519 {
				verifying = must[*secure.Keyring](t)(secure.PublicKeys(signing))
			}
			w := &wire{}
			pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Sign(alg, signing)))
			verify := must[transport.Middleware](t)(secure.Verify(alg, verifying))
			m := &transport.Message{Key: "k", Payload: []byte("pay 10 EUR"), Metadata: transport.Metadata{"a": "1", "empty": ""}}
			if err := pub.Publish(context.Background(), "invoices", m); err != nil {
				t.Fatal(err)
			}
			if len(m.Metadata) != 2 {
				t.Errorf("the caller's metadata changed: %v", m.Metadata)
			}
			signed := w.last(t)
			got, err := receive(signed.Copy(), verify)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Payload) != "pay 10 EUR" || len(got.Metadata) != 2 || got.Metadata["a"] != "1" {
				t.Errorf("verified message %q %v", got.Payload, got.Metadata)
			}

			// A header added after signing is removed, not trusted.
			added := signed.Copy()
			added.Metadata["role"] = "admin"
			got, err = receive(added, verify)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got.Metadata["role"]; ok {
				t.Error("an unsigned header reached the handler")
			}

			cases := []struct {
				name   string
				tamper func(m *transport.Message)
				reason secure.Reason
			}{
				{"payload", func(m *transport.Message) { m.Payload = []byte("pay 99 EUR") }, secure.ReasonBadSignature},
				{"signed header", func(m *transport.Message) { m.Metadata["a"] = "2" }, secure.ReasonBadSignature},
				{"signed header removed", func(m *transport.Message) { delete(m.Metadata, "empty") }, secure.ReasonBadSignature},
				{"signed header list", func(m *transport.Message) { m.Metadata[secure.HeaderSigMetadata] = `["a"]` }, secure.ReasonBadSignature},
				{"null list", func(m *transport.Message) { m.Metadata[secure.HeaderSigMetadata] = "null" }, secure.ReasonMalformed},
				{"missing list", func(m *transport.Message) { delete(m.Metadata, secure.HeaderSigMetadata) }, secure.ReasonMalformed},
				{"unsorted list", func(m *transport.Message) { m.Metadata[secure.HeaderSigMetadata] = `["empty","a"]` }, secure.ReasonMalformed},
				{"topic", func(m *transport.Message) { m.Topic = "other" }, secure.ReasonBadSignature},
				{"ID", func(m *transport.Message) { m.ID = "replayed" }, secure.ReasonBadSignature},
				{"key", func(m *transport.Message) { m.Key = "other" }, secure.ReasonBadSignature},
				{"signature", func(m *transport.Message) { m.Metadata[secure.HeaderSig] = b64(make([]byte, 64)) }, secure.ReasonBadSignature},
				{"signature not base64", func(m *transport.Message) { m.Metadata[secure.HeaderSig] = "!" }, secure.ReasonMalformed},
				{"unknown signer", func(m *transport.Message) { m.Metadata[secure.HeaderSigKeyID] = "s9" }, secure.ReasonUnknownKey},
				{"not signed", func(m *transport.Message) { delete(m.Metadata, secure.HeaderSig) }, secure.ReasonNotSigned},
				{"other algorithm", func(m *transport.Message) { m.Metadata[secure.HeaderSigAlg] = "v1.none" }, secure.ReasonUnsupported},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					d := signed.Copy()
					c.tamper(d)
					got, err := receive(d, verify)
					if got != nil {
						t.Fatal("tampered message reached the handler")
					}
					if r := reasonOf(t, err); r != c.reason {
						t.Errorf("reason %q, want %q: %v", r, c.reason, err)
					}
				})
			}
		})
	}
}

// A message signed with one algorithm is refused by a verifier of the other,
// even with the same key bytes: no algorithm confusion.
func TestVerifyAcceptsOnlyItsAlgorithm(t *testing.T) {
	k := key(t, "s1")
	r := ring(t, k)
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Sign(secure.HMACSHA256, r)))
	if err := pub.Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	verify := must[transport.Middleware](t)(secure.Verify(secure.Ed25519, must[*secure.Keyring](t)(secure.PublicKeys(r))))
	if _, err := receive(w.last(t), verify); reasonOf(t, err) != secure.ReasonUnsupported {
		t.Errorf("HMAC message under an Ed25519 verifier: %v", err)
	}
}

func TestWrongAndMissingKey(t *testing.T) {
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(ring(t, key(t, "k1")))))
	if err := pub.Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// Same ID, other material: the ciphertext does not authenticate.
	wrong := must[transport.Middleware](t)(secure.Open(ring(t, key(t, "k1"))))
	if _, err := receive(w.last(t), wrong); reasonOf(t, err) != secure.ReasonTampered {
		t.Errorf("wrong key: %v", err)
	}
	missing := must[transport.Middleware](t)(secure.Open(ring(t, key(t, "k2"))))
	_, err := receive(w.last(t), missing)
	if reasonOf(t, err) != secure.ReasonUnknownKey || !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("missing key: %v", err)
	}
	// A key of the wrong size in the consumer's ring.
	short := must[transport.Middleware](t)(secure.Open(ring(t, secure.Key{ID: "k1", Secret: make([]byte, 16)})))
	if _, err := receive(w.last(t), short); reasonOf(t, err) != secure.ReasonBadKey {
		t.Errorf("16-byte key: %v", err)
	}
	// Not sealed at all.
	if _, err := receive(&transport.Message{ID: "x", Topic: "t", Payload: []byte("clear")}, missing); reasonOf(t, err) != secure.ReasonNotSealed {
		t.Errorf("clear message: %v", err)
	}
}

// A refused message is dead-lettered after one attempt, sealed, with the
// reason; Retry does not try it again.
func TestRefusedMessageIsDeadLettered(t *testing.T) {
	r := ring(t, key(t, "k1"))
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r)))
	if err := pub.Publish(context.Background(), "orders", &transport.Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	m := w.last(t)
	m.Topic = "refunds" // copied to another topic

	dlqWire := &wire{}
	dlq := must[transport.Middleware](t)(middleware.DeadLetter(dlqWire))
	retry := must[transport.Middleware](t)(middleware.Retry(middleware.RetryMaxAttempts(5)))
	var failures []*secure.Error
	open := must[transport.Middleware](t)(secure.Open(r, secure.OnFailure(func(_ context.Context, e *secure.Error) {
		failures = append(failures, e)
	})))
	got, err := receive(m, dlq, retry, open)
	if err != nil || got != nil {
		t.Fatalf("handler called: %v, error %v", got != nil, err)
	}
	if len(failures) != 1 {
		t.Fatalf("%d refusals, want 1 (Retry retried a Permanent error)", len(failures))
	}
	dead := dlqWire.last(t)
	if dead.Metadata[middleware.MetaDLQAttempt] != "1" || !strings.Contains(dead.Metadata[middleware.MetaDLQReason], string(secure.ReasonTampered)) {
		t.Errorf("dead-lettered with %v", dead.Metadata)
	}
	if string(dead.Payload) != string(m.Payload) {
		t.Error("dead-lettered payload is not the sealed one")
	}
}

// A message that opens but whose handler fails permanently is dead-lettered
// sealed: DeadLetter outside Open never sees the plaintext.
func TestDeadLetterKeepsCiphertext(t *testing.T) {
	r := ring(t, key(t, "k1"))
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r, secure.EncryptMetadata("who"))))
	if err := pub.Publish(context.Background(), "orders", &transport.Message{Payload: []byte("secret"), Metadata: transport.Metadata{"who": "me"}}); err != nil {
		t.Fatal(err)
	}
	dlqWire := &wire{}
	dlq := must[transport.Middleware](t)(middleware.DeadLetter(dlqWire))
	open := must[transport.Middleware](t)(secure.Open(r))
	h := transport.Chain(func(context.Context, *transport.Message) error {
		return transport.Permanent(errors.New("cannot handle"))
	}, dlq, open)
	if err := h(context.Background(), w.last(t)); err != nil {
		t.Fatal(err)
	}
	dead := dlqWire.last(t)
	if strings.Contains(string(dead.Payload), "secret") || dead.Metadata["who"] != "" || dead.Metadata[secure.HeaderEnc] == "" {
		t.Errorf("dead-lettered in clear: %q %v", dead.Payload, dead.Metadata)
	}
}

func TestFailureCounterAndLog(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	open := must[transport.Middleware](t)(secure.Open(ring(t, key(t, "k1")), secure.WithMeterProvider(mp)))
	for range 3 {
		_, _ = receive(&transport.Message{ID: "x", Topic: "t", Payload: []byte("clear")}, open)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != secure.FailureCounter {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, _ := dp.Attributes.Value("brokerkit.secure.reason"); v.AsString() != string(secure.ReasonNotSealed) {
					t.Errorf("reason attribute %q", v.AsString())
				}
				total += dp.Value
			}
		}
	}
	if total != 3 {
		t.Errorf("counter %d, want 3", total)
	}
}

func TestConstructorsValidate(t *testing.T) {
	r := ring(t, key(t, "k1"))
	empty := ring(t)
	for name, err := range map[string]error{
		"Seal nil ring":            second(secure.Seal(nil)),
		"Seal no primary":          second(secure.Seal(empty)),
		"Seal short key":           second(secure.Seal(ring(t, secure.Key{ID: "k", Secret: make([]byte, 16)}))),
		"Seal nil option":          second(secure.Seal(r, nil)),
		"Seal with logger":         second(secure.Seal(r, secure.WithLogger(nil))),
		"Seal both encrypt":        second(secure.Seal(r, secure.EncryptMetadata("a"), secure.EncryptAllMetadata())),
		"Seal encrypt envelope":    second(secure.Seal(r, secure.EncryptMetadata(secure.HeaderEncKeyID))),
		"Open nil ring":            second(secure.Open(nil)),
		"Open encrypt option":      second(secure.Open(r, secure.EncryptMetadata("a"))),
		"Open nil logger":          second(secure.Open(r, secure.WithLogger(nil))),
		"Open nil meter":           second(secure.Open(r, secure.WithMeterProvider(nil))),
		"Open nil hook":            second(secure.Open(r, secure.OnFailure(nil))),
		"Sign unknown algorithm":   second(secure.Sign("rot13", r)),
		"Sign nil ring":            second(secure.Sign(secure.Ed25519, nil)),
		"Sign no primary":          second(secure.Sign(secure.Ed25519, empty)),
		"Sign short HMAC key":      second(secure.Sign(secure.HMACSHA256, ring(t, secure.Key{ID: "k", Secret: make([]byte, 16)}))),
		"Sign long Ed25519 seed":   second(secure.Sign(secure.Ed25519, ring(t, secure.Key{ID: "k", Secret: make([]byte, 64)}))),
		"Verify unknown algorithm": second(secure.Verify("", r)),
		"Verify nil ring":          second(secure.Verify(secure.HMACSHA256, nil)),
		"PublicKeys nil":           second(secure.PublicKeys(nil)),
		"PublicKeys of 16 bytes":   second(secure.PublicKeys(ring(t, secure.Key{ID: "k", Secret: make([]byte, 16)}))),
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestPublishRefusesReservedHeadersAndNil(t *testing.T) {
	r := ring(t, key(t, "k1"))
	w := &wire{}
	seal := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r)))
	sign := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Sign(secure.HMACSHA256, r)))
	ctx := context.Background()
	for name, err := range map[string]error{
		"seal reserved": seal.Publish(ctx, "t", &transport.Message{Metadata: transport.Metadata{secure.HeaderEnc: "x"}}),
		"sign reserved": sign.Publish(ctx, "t", &transport.Message{Metadata: transport.Metadata{secure.HeaderSig: "x"}}),
		"seal nil":      seal.Publish(ctx, "t", nil),
		"sign nil":      sign.Publish(ctx, "t", &transport.Message{}, nil),
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if len(w.sent) != 0 {
		t.Errorf("%d messages sent", len(w.sent))
	}
}

// During a rollout, consumers accept messages without an envelope, but
// still refuse a broken one.
func TestAcceptUnprotected(t *testing.T) {
	r := ring(t, key(t, "k1"))
	open := must[transport.Middleware](t)(secure.Open(r, secure.AcceptUnprotected()))
	verify := must[transport.Middleware](t)(secure.Verify(secure.HMACSHA256, r, secure.AcceptUnprotected()))
	clear := &transport.Message{ID: "1", Topic: "t", Payload: []byte("old producer"), Metadata: transport.Metadata{"a": "b"}}
	got, err := receive(clear, verify, open)
	if err != nil || got != clear {
		t.Fatalf("clear message during rollout: %v, handed on %v", err, got == clear)
	}
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r)),
		must[transport.PublisherMiddleware](t)(secure.Sign(secure.HMACSHA256, r)))
	if err := pub.Publish(context.Background(), "t", &transport.Message{Payload: []byte("new producer")}); err != nil {
		t.Fatal(err)
	}
	if got, err := receive(w.last(t), verify, open); err != nil || string(got.Payload) != "new producer" {
		t.Fatalf("sealed message during rollout: %v", err)
	}
	broken := w.last(t)
	broken.Payload[0] ^= 1
	if _, err := receive(broken, verify, open); reasonOf(t, err) != secure.ReasonBadSignature {
		t.Errorf("broken message during rollout: %v", err)
	}
	if _, err := secure.Seal(r, secure.AcceptUnprotected()); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("AcceptUnprotected on Seal: %v", err)
	}
}
