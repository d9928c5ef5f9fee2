// Package secure encrypts and signs messages end to end, on every backend:
// a payload sealed by the producer stays unreadable on the broker's disk, in
// its management UI, in dead-letter queues and bridges, and a signed message
// cannot be forged by another client allowed to publish.
//
//   - Seal (publisher side) and Open (handler side): AES-256-GCM of the
//     payload, and optionally of chosen headers, bound to the topic, the
//     message ID, the message key and the key ID.
//   - Sign and Verify: Ed25519 (verify-only consumers) or HMAC-SHA256
//     (a shared secret) over the topic, ID, key, headers and payload.
//   - Keyring: one primary key that seals or signs and older keys that
//     still open or verify, so keys rotate without downtime; retired keys
//     are refused with a reason. Keys come from the environment (EnvKeys),
//     a file (FileKeys) or a KMS or vault (a KeySource of one's own).
//
// A service adds two middleware and a keyring:
//
//	ring, err := secure.NewKeyring()
//	err = ring.Load(ctx, secure.EnvKeys("BROKERKIT_KEYS"))
//	seal, err := secure.Seal(ring)
//	open, err := secure.Open(ring)
//	pub = transport.ChainPublisher(pub, seal)
//	h = transport.Chain(handle, deadLetter, open)
//
// The envelope (which header holds what, the associated data and the
// signed bytes) is specified in docs/security.md, with test vectors in
// testdata/vectors.json, so that a consumer in another language can open
// and verify messages.
//
// # Why AES-256-GCM
//
// It is in the standard library and runs on the AES and carry-less multiply
// instructions of every current server CPU. Its 96-bit random nonce limits a
// key to about 2³² messages before the chance of a repeated nonce reaches
// 2⁻³² (NIST SP 800-38D): rotate the primary key well before that (a
// billion messages, say); the keyring makes that routine. XChaCha20-Poly1305
// has a 192-bit nonce without that bound, but needs golang.org/x/crypto and
// is slower where AES instructions exist.
//
// # Order
//
// Publisher side, Seal before Sign so that the envelope is signed too, both
// after anything that adds headers (tracing):
//
//	pub = transport.ChainPublisher(backend, tracingMW, seal, sign)
//
// Handler side, the mirror image, with DeadLetter outside so that it
// dead-letters a refused message, and dead-letters the sealed message, not
// its plaintext, when the handler fails later:
//
//	h = transport.Chain(handle, tracingMW, deadLetter, retry, verify, open)
//
// # Delivery
//
// Open and Verify never hand on a message they could not open or verify,
// and never return nil for it: they return a transport.Permanent *Error
// naming the reason, so Retry stops at once, DeadLetter moves the message to
// its dead-letter topic after one attempt with the reason in dlq-reason, and
// without DeadLetter the backend redelivers it as it does any failed
// message. Each refusal is logged (WithLogger), counted (WithMeterProvider)
// and reported (OnFailure). The one exception is AcceptUnprotected, for a
// rollout: it hands on messages that carry no envelope at all.
//
// # Errors
//
// Constructors validate their arguments and options and return a
// transport.ErrInvalid error naming the bad one; none panics. Publish
// through Seal or Sign fails with an ErrInvalid error, sending nothing,
// when the ring has no usable primary key or a message already carries an
// envelope header. No error, log record or Key's printed form holds key
// material.
package secure
