package secure

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/brokerkit/brokerkit/transport"
)

// Algorithm is a signature scheme.
type Algorithm string

const (
	// Ed25519 signs with a private key (a 32-byte seed in the signer's
	// ring) and verifies with the public key (32 bytes in the verifier's
	// ring; PublicKeys derives that ring): consumers can verify but not
	// forge.
	Ed25519 Algorithm = SchemeEd25519
	// HMACSHA256 signs and verifies with one shared secret of at least 32
	// bytes: whoever can verify can also sign.
	HMACSHA256 Algorithm = SchemeHMACSHA256
)

func (a Algorithm) check() error {
	if a != Ed25519 && a != HMACSHA256 {
		return transport.Invalidf("secure: unknown signature algorithm %q", sanitize(string(a)))
	}
	return nil
}

// PublicKeys returns a ring of the Ed25519 public keys of ring's seeds,
// with the same IDs, primary and retired keys: what consumers verify with.
func PublicKeys(ring *Keyring) (*Keyring, error) {
	if ring == nil {
		return nil, transport.Invalidf("secure: PublicKeys: nil keyring")
	}
	ring.mu.RLock()
	defer ring.mu.RUnlock()
	out, _ := NewKeyring()
	for id, e := range ring.keys {
		if len(e.secret) != ed25519.SeedSize {
			return nil, transport.Invalidf("secure: PublicKeys: key %q has %d bytes, an Ed25519 seed has %d", id, len(e.secret), ed25519.SeedSize)
		}
		pub := ed25519.NewKeyFromSeed(e.secret).Public().(ed25519.PublicKey)
		out.keys[id] = &entry{secret: pub}
	}
	for id := range ring.retired {
		out.retired[id] = true
	}
	out.primary = ring.primary
	return out, nil
}

// signer makes and checks signatures with one key, over prefix ‖ payload
// (see signedPrefix).
type signer interface {
	sign(prefix, payload []byte) []byte
	verify(prefix, payload, sig []byte) bool
	// streams reports whether the signer hashes prefix and payload in
	// place; pure Ed25519 needs them in one slice.
	streams() bool
}

type ed25519Signer struct {
	priv ed25519.PrivateKey // nil in a verifier
	pub  ed25519.PublicKey
}

// Ed25519 gets prefix with the payload already appended (streams is false).
func (s ed25519Signer) sign(b, _ []byte) []byte      { return ed25519.Sign(s.priv, b) }
func (s ed25519Signer) verify(b, _, sig []byte) bool { return ed25519.Verify(s.pub, b, sig) }
func (ed25519Signer) streams() bool                  { return false }

// hmacSigner keeps its keyed hashes in a pool: hmac.New costs more than
// hashing a small message.
type hmacSigner struct{ pool *sync.Pool }

func newHMACSigner(secret []byte) hmacSigner {
	return hmacSigner{pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
}

func (s hmacSigner) sign(prefix, payload []byte) []byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(prefix)
	h.Write(payload)
	sum := h.Sum(nil)
	s.pool.Put(h)
	return sum
}

func (s hmacSigner) verify(prefix, payload, sig []byte) bool {
	return hmac.Equal(s.sign(prefix, payload), sig)
}

func (hmacSigner) streams() bool { return true }

// toSign returns the two slices a signer takes: the prefix and the payload
// for a streaming signer, the whole signed bytes (and nil) otherwise.
func toSign(s signer, scheme, keyID, topic, id, key string, names []string, md map[string]string, payload []byte) ([]byte, []byte, error) {
	if s.streams() {
		prefix, err := signedPrefix(scheme, keyID, topic, id, key, names, md, payload, 0)
		return prefix, payload, err
	}
	b, err := signedBytes(scheme, keyID, topic, id, key, names, md, payload)
	return b, nil, err
}

// signerOf builds the key's signer once. forSigning tells an Ed25519 seed
// from a public key, which have the same size.
func signerOf(alg Algorithm, e *entry, forSigning bool) (signer, error) {
	// Constant kinds: building them per message would allocate.
	kind := "verify"
	if forSigning {
		kind = "sign"
	}
	if alg == HMACSHA256 {
		kind = "hmac" // one signer signs and verifies
	}
	v, err := e.derive(kind, func(secret []byte) (any, error) {
		switch {
		case alg == HMACSHA256:
			if len(secret) < 32 {
				return nil, fmt.Errorf("HMAC-SHA256 needs a key of at least 32 bytes, this one has %d", len(secret))
			}
			return newHMACSigner(secret), nil
		case forSigning:
			if len(secret) != ed25519.SeedSize {
				return nil, fmt.Errorf("an Ed25519 signing key is a %d-byte seed, this one has %d", ed25519.SeedSize, len(secret))
			}
			priv := ed25519.NewKeyFromSeed(secret)
			return ed25519Signer{priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
		default:
			if len(secret) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("an Ed25519 public key has %d bytes, this one has %d", ed25519.PublicKeySize, len(secret))
			}
			return ed25519Signer{pub: ed25519.PublicKey(secret)}, nil
		}
	})
	if err != nil {
		return nil, err
	}
	return v.(signer), nil
}

// Sign returns publisher middleware that signs each message with ring's
// primary key: the signature covers the topic, the ID, the key, every
// header the message has (sorted by name) and the payload, as
// docs/security.md describes, and travels in the bk-sig headers with the
// signer's key ID and the list of signed header names.
//
// Headers added after signing (by tracing middleware further in, a
// dead-letter hop, a broker) are not covered and Verify removes them; put
// Sign last but one, just before the backend, and after Seal when both are
// used, so that the envelope is signed too:
//
//	pub = transport.ChainPublisher(backend, tracingMW, seal, sign)
//
// A message without an ID gets one first. The caller's messages are not
// changed otherwise.
func Sign(alg Algorithm, ring *Keyring, opts ...Option) (transport.PublisherMiddleware, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	if ring == nil {
		return nil, transport.Invalidf("secure: Sign: nil keyring")
	}
	if _, err := newConfig(roleSign, opts); err != nil {
		return nil, err
	}
	if _, _, err := signingKey(alg, ring); err != nil {
		return nil, err
	}
	return func(next transport.Publisher) transport.Publisher {
		return &signingPublisher{next: next, alg: alg, ring: ring}
	}, nil
}

func signingKey(alg Algorithm, ring *Keyring) (string, signer, error) {
	id, e := ring.primaryEntry()
	if e == nil {
		return "", nil, transport.Invalidf("secure: sign: the keyring has no primary key")
	}
	s, err := signerOf(alg, e, true)
	if err != nil {
		return "", nil, transport.Invalidf("secure: sign: primary key %q: %v", id, err)
	}
	return id, s, nil
}

type signingPublisher struct {
	next transport.Publisher
	alg  Algorithm
	ring *Keyring
}

func (p *signingPublisher) Close() error { return p.next.Close() }

func (p *signingPublisher) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	kid, s, err := signingKey(p.alg, p.ring)
	if err != nil {
		return err
	}
	out := make([]*transport.Message, len(msgs))
	for i, m := range msgs {
		if m == nil {
			return transport.Invalidf("message #%d is nil", i)
		}
		if m.ID == "" {
			m.ID = transport.NewID()
		}
		signed, err := signMessage(p.alg, kid, s, topic, m)
		if err != nil {
			return fmt.Errorf("message #%d: %w", i, err)
		}
		out[i] = signed
	}
	return p.next.Publish(ctx, topic, out...)
}

func signMessage(alg Algorithm, kid string, s signer, topic string, m *transport.Message) (*transport.Message, error) {
	names := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		if isSigHeader(k) {
			return nil, transport.Invalidf("secure: sign: metadata key %q is reserved for the envelope", k)
		}
		if !utf8.ValidString(k) {
			return nil, transport.Invalidf("secure: sign: metadata key %q is not UTF-8", sanitize(k))
		}
		names = append(names, k)
	}
	slices.Sort(names)
	prefix, payload, err := toSign(s, string(alg), kid, topic, m.ID, m.Key, names, m.Metadata, m.Payload)
	if err != nil {
		return nil, transport.Invalidf("secure: sign: %v", err)
	}
	list, _ := json.Marshal(names) // strings only: cannot fail
	md := make(transport.Metadata, len(m.Metadata)+4)
	for k, v := range m.Metadata {
		md[k] = v
	}
	md[HeaderSig] = base64.StdEncoding.EncodeToString(s.sign(prefix, payload))
	md[HeaderSigAlg] = string(alg)
	md[HeaderSigKeyID] = kid
	md[HeaderSigMetadata] = string(list)
	c := *m
	c.Metadata = md
	return &c, nil
}

// Verify returns handler middleware that checks a message's signature
// against ring's keys (for Ed25519, public keys: see PublicKeys) before the
// next handler sees it. Only the algorithm alg is accepted, so that a
// message cannot pick a weaker check. The next handler gets a copy holding
// only the signed headers: the bk-sig headers and anything added after
// signing are removed, so that it never reads a header it cannot trust.
//
// A message without a valid signature by a trusted key is never handed on:
// Verify returns a transport.Permanent *Error naming the reason, so Retry
// gives up at once and DeadLetter dead-letters it after one attempt.
func Verify(alg Algorithm, ring *Keyring, opts ...Option) (transport.Middleware, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	if ring == nil {
		return nil, transport.Invalidf("secure: Verify: nil keyring")
	}
	c, err := newConfig(roleVerify, opts)
	if err != nil {
		return nil, err
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			if c.acceptBare {
				if _, signed := m.Metadata[HeaderSig]; !signed {
					return next(ctx, m)
				}
			}
			ok, e := verifyMessage(alg, ring, m)
			if e != nil {
				return c.fail(ctx, e)
			}
			return next(ctx, ok)
		}
	}, nil
}

// verifyMessage is the signature envelope's decoder: it returns the
// verified copy of m, or why it cannot.
func verifyMessage(alg Algorithm, ring *Keyring, m *transport.Message) (*transport.Message, *Error) {
	fail := func(r Reason, kid, detail string) *Error {
		return &Error{Op: "verify", Reason: r, Topic: m.Topic, ID: m.ID, KeyID: kid, Detail: detail}
	}
	sig64, ok := m.Metadata[HeaderSig]
	if !ok {
		return nil, fail(ReasonNotSigned, "", "no "+HeaderSig+" header")
	}
	if got := m.Metadata[HeaderSigAlg]; got != string(alg) {
		return nil, fail(ReasonUnsupported, "", fmt.Sprintf("%s is %q, want %q", HeaderSigAlg, sanitize(got), alg))
	}
	kid, ok := m.Metadata[HeaderSigKeyID]
	if !ok || checkKeyID(kid) != nil {
		return nil, fail(ReasonMalformed, "", "missing or invalid "+HeaderSigKeyID+" header")
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return nil, fail(ReasonMalformed, kid, HeaderSig+" is not standard base64")
	}
	var names []string
	list := m.Metadata[HeaderSigMetadata]
	if err := json.Unmarshal([]byte(list), &names); err != nil || names == nil { // "null" is no list
		return nil, fail(ReasonMalformed, kid, HeaderSigMetadata+" is not a JSON array of strings")
	}
	for i, n := range names {
		if i > 0 && n <= names[i-1] {
			return nil, fail(ReasonMalformed, kid, HeaderSigMetadata+" is not in ascending order without repeats")
		}
		if isSigHeader(n) {
			return nil, fail(ReasonMalformed, kid, HeaderSigMetadata+" lists a signature header")
		}
		if _, ok := m.Metadata[n]; !ok {
			return nil, fail(ReasonBadSignature, kid, fmt.Sprintf("signed header %q is missing", sanitize(n)))
		}
	}
	e, reason := ring.lookup(kid)
	if e == nil {
		detail := "not a trusted key"
		if reason == ReasonRetiredKey {
			detail = "the key was retired; messages signed with it are no longer accepted"
		}
		return nil, fail(reason, kid, detail)
	}
	s, err := signerOf(alg, e, false)
	if err != nil {
		return nil, fail(ReasonBadKey, kid, err.Error())
	}
	prefix, payload, err := toSign(s, string(alg), kid, m.Topic, m.ID, m.Key, names, m.Metadata, m.Payload)
	if err != nil {
		return nil, fail(ReasonMalformed, kid, err.Error())
	}
	if !s.verify(prefix, payload, sig) {
		return nil, fail(ReasonBadSignature, kid,
			"the topic, ID, key, a signed header or the payload was changed, or another key signed it")
	}
	md := make(transport.Metadata, len(names))
	for _, n := range names {
		md[n] = m.Metadata[n]
	}
	out := *m
	out.Metadata = md
	return &out, nil
}
