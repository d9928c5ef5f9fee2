package secure

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/brokerkit/brokerkit/transport"
)

// Seal returns publisher middleware that encrypts each message's payload
// (and, with EncryptMetadata or EncryptAllMetadata, some of its headers)
// with AES-256-GCM under ring's primary key, a fresh random nonce per
// message. The associated data binds the ciphertext to the topic, the
// message ID, the message key and the key ID, so that a copy published to
// another topic or under another ID or key fails to open.
//
// A message without an ID gets one first, since the ID is sealed in. The
// caller's messages are not changed otherwise: the publisher below gets
// sealed copies. Keys in the ring must have 32 bytes.
//
// Publish fails with an ErrInvalid error, sending nothing, when the ring has
// no usable primary key or a message already carries an envelope header.
func Seal(ring *Keyring, opts ...Option) (transport.PublisherMiddleware, error) {
	if ring == nil {
		return nil, transport.Invalidf("secure: Seal: nil keyring")
	}
	c, err := newConfig(roleSeal, opts)
	if err != nil {
		return nil, err
	}
	if _, err := sealKey(ring); err != nil {
		return nil, err
	}
	return func(next transport.Publisher) transport.Publisher {
		return &sealer{next: next, ring: ring, c: c}
	}, nil
}

type sealer struct {
	next transport.Publisher
	ring *Keyring
	c    *config
}

func (s *sealer) Close() error { return s.next.Close() }

func (s *sealer) Publish(ctx context.Context, topic string, msgs ...*transport.Message) error {
	out, err := s.sealAll(topic, msgs)
	if err != nil {
		return err
	}
	return s.next.Publish(ctx, topic, out...)
}

// sealingKey is the primary key with its AEAD.
type sealingKey struct {
	id   string
	aead cipher.AEAD
}

// sealKey returns the ring's primary key, read per Publish so that a
// rotation applies from the next call on.
func sealKey(ring *Keyring) (sealingKey, error) {
	id, e := ring.primaryEntry()
	if e == nil {
		return sealingKey{}, transport.Invalidf("secure: seal: the keyring has no primary key")
	}
	aead, err := aeadOf(e)
	if err != nil {
		return sealingKey{}, transport.Invalidf("secure: seal: primary key %q: %v", id, err)
	}
	return sealingKey{id: id, aead: aead}, nil
}

// aeadOf builds the key's AES-256-GCM once. The error never holds
// material: aes.KeySizeError prints the length only, and is not used.
func aeadOf(e *entry) (cipher.AEAD, error) {
	v, err := e.derive("aes-256-gcm", func(secret []byte) (any, error) {
		if len(secret) != 32 {
			return nil, fmt.Errorf("AES-256-GCM needs a 32-byte key, this one has %d", len(secret))
		}
		b, err := aes.NewCipher(secret)
		if err != nil {
			return nil, fmt.Errorf("AES-256-GCM key rejected")
		}
		return cipher.NewGCM(b)
	})
	if err != nil {
		return nil, err
	}
	return v.(cipher.AEAD), nil
}

func (s *sealer) sealAll(topic string, msgs []*transport.Message) ([]*transport.Message, error) {
	k, err := sealKey(s.ring)
	if err != nil {
		return nil, err
	}
	out := make([]*transport.Message, len(msgs))
	for i, m := range msgs {
		if m == nil {
			return nil, transport.Invalidf("message #%d is nil", i)
		}
		if m.ID == "" {
			m.ID = transport.NewID()
		}
		sealed, err := sealMessage(k, s.c.nonce, s.c, topic, m)
		if err != nil {
			return nil, fmt.Errorf("message #%d: %w", i, err)
		}
		out[i] = sealed
	}
	return out, nil
}

// sealMessage returns m's sealed copy: payload nonce ‖ ciphertext ‖ tag, and
// metadata with the envelope headers.
func sealMessage(k sealingKey, nonces io.Reader, c *config, topic string, m *transport.Message) (*transport.Message, error) {
	md := make(transport.Metadata, len(m.Metadata)+3)
	var secret map[string]string
	for name, v := range m.Metadata {
		if isEncHeader(name) {
			return nil, transport.Invalidf("secure: seal: metadata key %q is reserved for the envelope", name)
		}
		if c.encrypts(name) {
			if secret == nil {
				secret = map[string]string{}
			}
			secret[name] = v
			continue
		}
		md[name] = v
	}
	payload, err := sealBytes(k, nonces, partPayload, topic, m, m.Payload)
	if err != nil {
		return nil, err
	}
	if secret != nil {
		plain, err := encodeHeaders(secret)
		if err != nil {
			return nil, transport.Invalidf("secure: seal: %v", err)
		}
		sealed, err := sealBytes(k, nonces, partMetadata, topic, m, plain)
		if err != nil {
			return nil, err
		}
		md[HeaderEncMetadata] = base64.StdEncoding.EncodeToString(sealed)
	}
	md[HeaderEnc] = SchemeAES256GCM
	md[HeaderEncKeyID] = k.id
	c2 := *m // keeps what the caller set; only the payload and metadata change
	c2.Payload, c2.Metadata = payload, md
	return &c2, nil
}

func sealBytes(k sealingKey, nonces io.Reader, part, topic string, m *transport.Message, plain []byte) ([]byte, error) {
	aad, err := encAAD(SchemeAES256GCM, k.id, part, topic, m.ID, m.Key)
	if err != nil {
		return nil, transport.Invalidf("secure: seal: %v", err)
	}
	if uint64(len(plain)) > 1<<36 { // GCM's limit per message, far above any broker's
		return nil, transport.Invalidf("secure: seal: %d bytes is too much for one AES-GCM message", len(plain))
	}
	out := make([]byte, nonceSize, nonceSize+len(plain)+tagSize)
	if _, err := io.ReadFull(nonces, out); err != nil {
		return nil, fmt.Errorf("secure: seal: reading a random nonce: %w", err)
	}
	return k.aead.Seal(out, out[:nonceSize], plain, aad), nil
}

// Open returns handler middleware that decrypts what Seal encrypted before
// the next handler sees it: the payload, and the encrypted headers put back
// in Metadata; the envelope headers are removed. The next handler gets a
// copy, so middleware outside Open (DeadLetter above all) still hold the
// sealed message and never publish the plaintext.
//
// A message that cannot be opened (no envelope, another scheme, a key that
// is unknown, retired or of the wrong size, a ciphertext that does not
// authenticate) is never handed on: Open returns a transport.Permanent
// *Error naming the reason, so Retry gives up at once and DeadLetter
// dead-letters it after one attempt.
func Open(ring *Keyring, opts ...Option) (transport.Middleware, error) {
	if ring == nil {
		return nil, transport.Invalidf("secure: Open: nil keyring")
	}
	c, err := newConfig(roleOpen, opts)
	if err != nil {
		return nil, err
	}
	return func(next transport.Handler) transport.Handler {
		return func(ctx context.Context, m *transport.Message) error {
			if c.acceptBare {
				if _, sealed := m.Metadata[HeaderEnc]; !sealed {
					return next(ctx, m)
				}
			}
			plain, e := openMessage(ring, m)
			if e != nil {
				return c.fail(ctx, e)
			}
			return next(ctx, plain)
		}
	}, nil
}

// openMessage is the envelope decoder: it returns the opened copy of m, or
// why it cannot.
func openMessage(ring *Keyring, m *transport.Message) (*transport.Message, *Error) {
	fail := func(r Reason, kid, detail string) *Error {
		return &Error{Op: "open", Reason: r, Topic: m.Topic, ID: m.ID, KeyID: kid, Detail: detail}
	}
	scheme, ok := m.Metadata[HeaderEnc]
	if !ok {
		return nil, fail(ReasonNotSealed, "", "no "+HeaderEnc+" header")
	}
	if scheme != SchemeAES256GCM {
		return nil, fail(ReasonUnsupported, "", fmt.Sprintf("%s is %q, want %q", HeaderEnc, sanitize(scheme), SchemeAES256GCM))
	}
	kid, ok := m.Metadata[HeaderEncKeyID]
	if !ok || checkKeyID(kid) != nil {
		return nil, fail(ReasonMalformed, "", "missing or invalid "+HeaderEncKeyID+" header")
	}
	e, reason := ring.lookup(kid)
	if e == nil {
		detail := "not in the keyring"
		if reason == ReasonRetiredKey {
			detail = "the key was retired; messages sealed with it are no longer accepted"
		}
		return nil, fail(reason, kid, detail)
	}
	aead, err := aeadOf(e)
	if err != nil {
		return nil, fail(ReasonBadKey, kid, err.Error())
	}
	open := func(part string, sealed []byte) ([]byte, *Error) {
		if len(sealed) < nonceSize+tagSize {
			return nil, fail(ReasonMalformed, kid, part+" shorter than nonce and tag")
		}
		aad, err := encAAD(scheme, kid, part, m.Topic, m.ID, m.Key)
		if err != nil {
			return nil, fail(ReasonMalformed, kid, err.Error())
		}
		plain, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
		if err != nil {
			return nil, fail(ReasonTampered, kid,
				part+" does not authenticate: changed, moved to another topic, ID or key, or sealed with another key of this ID")
		}
		return plain, nil
	}
	payload, fe := open(partPayload, m.Payload)
	if fe != nil {
		return nil, fe
	}
	md := make(transport.Metadata, len(m.Metadata))
	for k, v := range m.Metadata {
		if !isEncHeader(k) {
			md[k] = v
		}
	}
	if b64, ok := m.Metadata[HeaderEncMetadata]; ok {
		sealed, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fail(ReasonMalformed, kid, HeaderEncMetadata+" is not standard base64")
		}
		plain, fe := open(partMetadata, sealed)
		if fe != nil {
			return nil, fe
		}
		secret, err := decodeHeaders(plain)
		if err != nil {
			return nil, fail(ReasonMalformed, kid, err.Error())
		}
		for k, v := range secret {
			if _, clash := md[k]; clash || isEncHeader(k) {
				return nil, fail(ReasonMalformed, kid, fmt.Sprintf("encrypted header %q also in clear", sanitize(k)))
			}
			md[k] = v
		}
	}
	out := *m // a copy: keeps the native message for Message.As
	out.Payload, out.Metadata = payload, md
	return &out, nil
}
