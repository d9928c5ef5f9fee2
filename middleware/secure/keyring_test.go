package secure_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/brokerkit/brokerkit/middleware/secure"
	"github.com/brokerkit/brokerkit/middleware/tracing"
	"github.com/brokerkit/brokerkit/transport"
)

func TestParseKeys(t *testing.T) {
	a, b := key(t, "a"), key(t, "b")
	text := fmt.Sprintf("# keys\nb=%s, a=%s\n\n!old-1\n", b64(b.Secret), b64(a.Secret))
	ks, err := secure.ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Primary != "b" || len(ks.Keys) != 2 || ks.Keys[1].ID != "a" || !bytes.Equal(ks.Keys[1].Secret, a.Secret) ||
		len(ks.Retired) != 1 || ks.Retired[0] != "old-1" {
		t.Errorf("parsed %+v", ks)
	}
	for _, bad := range []string{
		"a",                    // no "="
		"a=!!!",                // not base64
		"a=",                   // empty
		"a b=" + b64(a.Secret), // bad ID
		"a=" + b64(a.Secret) + ",a=" + b64(b.Secret), // twice
		"!a,a=" + b64(a.Secret),                      // retired and present
		"!",                                          // empty retired ID
	} {
		if _, err := secure.ParseKeys(bad); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("ParseKeys(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestLoadFromEnvAndFile(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	t.Setenv("SECURE_TEST_KEYS", "k2="+b64(k2.Secret)+",k1="+b64(k1.Secret)+",!k0")
	r := ring(t)
	if err := r.Load(context.Background(), secure.EnvKeys("SECURE_TEST_KEYS")); err != nil {
		t.Fatal(err)
	}
	if r.Primary() != "k2" || strings.Join(r.IDs(), ",") != "k1,k2" {
		t.Errorf("loaded primary %q, keys %v", r.Primary(), r.IDs())
	}
	if err := r.Load(context.Background(), secure.EnvKeys("SECURE_TEST_UNSET")); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("unset variable: %v", err)
	}
	if r.Primary() != "k2" {
		t.Error("a failed Load changed the ring")
	}

	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("# rotated\nk3="+b64(key(t, "k3").Secret)+"\nk2="+b64(k2.Secret)+"\n!k1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Load(context.Background(), secure.FileKeys(path)); err != nil {
		t.Fatal(err)
	}
	if r.Primary() != "k3" || strings.Join(r.IDs(), ",") != "k2,k3" {
		t.Errorf("loaded primary %q, keys %v", r.Primary(), r.IDs())
	}
	// k1 is now retired: Open says so.
	open := must[transport.Middleware](t)(secure.Open(r))
	w := &wire{}
	pub := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(ring(t, k1))))
	_ = pub.Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")})
	if _, err := receive(w.last(t), open); reasonOf(t, err) != secure.ReasonRetiredKey {
		t.Errorf("k1 after Load retired it: %v", err)
	}

	// A KMS plugs in as a KeySource.
	kms := secure.KeySourceFunc(func(context.Context) (secure.KeySet, error) {
		return secure.KeySet{Primary: "k9", Keys: []secure.Key{k1}}, nil
	})
	if err := r.Load(context.Background(), kms); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("primary not among the keys: %v", err)
	}
}

func TestKeyringRules(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	r := ring(t, k1, k2)
	if r.Primary() != "k1" {
		t.Errorf("primary %q, want the first key", r.Primary())
	}
	if err := r.Retire("k1"); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("retiring the primary: %v", err)
	}
	if err := r.Add(k2); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("adding an ID twice: %v", err)
	}
	if err := r.SetPrimary("nope"); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("SetPrimary of an unknown key: %v", err)
	}
	if err := r.Add(secure.Key{ID: "k3"}); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := secure.GenerateKey(""); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("GenerateKey with an empty ID: %v", err)
	}
	// The ring keeps its own copy of the material.
	k4 := key(t, "k4")
	orig := bytes.Clone(k4.Secret)
	if err := r.Add(k4); err != nil {
		t.Fatal(err)
	}
	clear(k4.Secret)
	w := &wire{}
	if err := r.SetPrimary("k4"); err != nil {
		t.Fatal(err)
	}
	_ = transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r))).
		Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")})
	if _, err := receive(w.last(t), must[transport.Middleware](t)(secure.Open(ring(t, secure.Key{ID: "k4", Secret: orig})))); err != nil {
		t.Errorf("ring did not copy the key: %v", err)
	}
}

// encodings returns the forms in which key material could leak.
func encodings(secret []byte) []string {
	return []string{
		string(secret),
		hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint(secret),         // [1 2 3 ...]
		fmt.Sprintf("%q", secret),  // "\x01..."
		fmt.Sprintf("%#v", secret), // []byte{0x1, ...}
	}
}

// No error, log record or printed Key holds key material, in any encoding
// the package or fmt uses.
func TestNoKeyInAnyOutput(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var out []string
	add := func(err error) {
		if err != nil {
			out = append(out, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}

	// Printed and logged keys.
	for _, k := range []secure.Key{k1, k2} {
		out = append(out, fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k), k.String())
		logger.Info("key", "key", k)
		ks := secure.KeySet{Primary: k.ID, Keys: []secure.Key{k}}
		out = append(out, fmt.Sprintf("%v %+v", ks, ks))
	}

	kr := ring(t, k1, k2)
	_ = kr.Retire("k2")
	out = append(out, fmt.Sprint(kr), fmt.Sprintf("%v %+v %#v %s", kr, kr, kr, kr), fmt.Sprintf("%+v", struct{ R *secure.Keyring }{kr}))
	logger.Info("ring", "ring", kr)
	if got := kr.String(); got != `secure.Keyring{primary: "k1", keys: ["k1"], retired: ["k2"]}` {
		t.Errorf("Keyring.String() = %s", got)
	}

	// Every refusal, logged by the middleware.
	sealed := func(r *secure.Keyring) *transport.Message {
		w := &wire{}
		if err := transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Seal(r, secure.EncryptAllMetadata()))).
			Publish(context.Background(), "t", &transport.Message{Payload: []byte("x"), Metadata: transport.Metadata{"a": "b"}}); err != nil {
			t.Fatal(err)
		}
		return w.last(t)
	}
	m1 := sealed(ring(t, k1))
	for _, r := range []*secure.Keyring{
		ring(t, secure.Key{ID: "k1", Secret: k2.Secret}), // wrong key
		ring(t, k2), // unknown key
		ring(t, secure.Key{ID: "k1", Secret: k2.Secret[:20]}), // wrong size
	} {
		open := must[transport.Middleware](t)(secure.Open(r, secure.WithLogger(logger)))
		_, err := receive(m1.Copy(), open)
		add(err)
	}
	retired := ring(t, k2, k1)
	_ = retired.Retire("k1")
	_, err := receive(m1.Copy(), must[transport.Middleware](t)(secure.Open(retired, secure.WithLogger(logger))))
	add(err)
	for _, alg := range []secure.Algorithm{secure.Ed25519, secure.HMACSHA256} {
		w := &wire{}
		_ = transport.ChainPublisher(w, must[transport.PublisherMiddleware](t)(secure.Sign(alg, ring(t, k1)))).
			Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")})
		m := w.last(t)
		m.Payload = []byte("y")
		verifying := ring(t, k1)
		if alg == secure.Ed25519 {
			verifying = must[*secure.Keyring](t)(secure.PublicKeys(verifying))
		}
		_, err := receive(m, must[transport.Middleware](t)(secure.Verify(alg, verifying, secure.WithLogger(logger))))
		add(err)
		_, err = receive(w.last(t), must[transport.Middleware](t)(secure.Verify(alg, ring(t, secure.Key{ID: "k1", Secret: k2.Secret[:8]}), secure.WithLogger(logger))))
		add(err)
	}

	// Constructor and parse errors about bad keys.
	_, err = secure.Seal(ring(t, secure.Key{ID: "k1", Secret: k1.Secret[:31]}))
	add(err)
	_, err = secure.Sign(secure.HMACSHA256, ring(t, secure.Key{ID: "k1", Secret: k1.Secret[:31]}))
	add(err)
	_, err = secure.ParseKeys("k1=" + b64(k1.Secret) + "!")
	add(err)
	_, err = secure.ParseKeys("k1" + b64(k1.Secret))
	add(err)
	_, err = secure.ParseKeys(b64(k1.Secret)[:10] + " x=" + b64(k1.Secret))
	add(err)
	t.Setenv("SECURE_TEST_BAD", "k1="+b64(k1.Secret)+"#")
	add(ring(t).Load(context.Background(), secure.EnvKeys("SECURE_TEST_BAD")))

	// Spans: the package makes none, but tracing middleware around Open and
	// Verify record their errors; those hold no key either.
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	traced := must[transport.Middleware](t)(tracing.Middleware(tracing.WithTracerProvider(tp)))
	tracedPub := must[transport.PublisherMiddleware](t)(tracing.PublisherMiddleware(tracing.WithTracerProvider(tp)))
	w := &wire{}
	if err := transport.ChainPublisher(w, tracedPub, must[transport.PublisherMiddleware](t)(secure.Seal(ring(t, k1))),
		must[transport.PublisherMiddleware](t)(secure.Sign(secure.HMACSHA256, ring(t, k2)))).
		Publish(context.Background(), "t", &transport.Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*secure.Keyring{ring(t, secure.Key{ID: "k1", Secret: k2.Secret}), ring(t, secure.Key{ID: "k1", Secret: k2.Secret[:5]})} {
		_, err := receive(w.last(t), traced, must[transport.Middleware](t)(secure.Verify(secure.HMACSHA256, ring(t, k2))),
			must[transport.Middleware](t)(secure.Open(r)))
		add(err)
	}
	spans := sr.Ended()
	if len(spans) < 3 {
		t.Fatalf("%d spans recorded, want the producer's and 2 consumer spans", len(spans))
	}
	for _, sp := range spans {
		out = append(out, sp.Name(), sp.Status().Description, fmt.Sprint(sp.Attributes()))
		for _, ev := range sp.Events() {
			out = append(out, ev.Name, fmt.Sprint(ev.Attributes))
		}
	}
	if !strings.Contains(strings.Join(out, "\n"), "authentication failed") {
		t.Error("the spans do not record the refusal")
	}

	if logs.Len() == 0 || len(out) < 20 {
		t.Fatalf("test produced too little output to check: %d log bytes, %d strings", logs.Len(), len(out))
	}
	all := strings.Join(out, "\n") + "\n" + logs.String()
	for _, k := range []secure.Key{k1, k2} {
		for _, enc := range encodings(k.Secret) {
			// 8-character slices of each encoding catch partial leaks too.
			for i := 0; i+8 <= len(enc); i += 4 {
				if strings.Contains(all, enc[i:i+8]) {
					t.Fatalf("key %s material (%q) in the output:\n%s", k.ID, enc[i:i+8], all)
				}
			}
		}
	}
	if !strings.Contains(logs.String(), string(secure.ReasonRetiredKey)) {
		t.Error("refusals not logged")
	}
}
