package secure

import (
	"strconv"
	"strings"
)

// Reason says why a message was refused. It is part of every *Error's text,
// so DeadLetter's dlq-reason header names it.
type Reason string

const (
	// ReasonNotSealed: Open got a message without the bk-enc header.
	ReasonNotSealed Reason = "not sealed"
	// ReasonNotSigned: Verify got a message without the bk-sig header.
	ReasonNotSigned Reason = "not signed"
	// ReasonUnsupported: an envelope of another version or algorithm than
	// the middleware was built for.
	ReasonUnsupported Reason = "unsupported envelope"
	// ReasonMalformed: envelope headers or payload that do not decode.
	ReasonMalformed Reason = "malformed envelope"
	// ReasonUnknownKey: no key of that ID in the ring.
	ReasonUnknownKey Reason = "unknown key"
	// ReasonRetiredKey: the key was retired (Keyring.Retire).
	ReasonRetiredKey Reason = "retired key"
	// ReasonBadKey: the ring's key of that ID has the wrong size for the
	// algorithm.
	ReasonBadKey Reason = "unusable key"
	// ReasonTampered: the ciphertext does not authenticate: the payload,
	// the topic, the ID, the key or an encrypted header was changed, or
	// the ring holds another key under that ID.
	ReasonTampered Reason = "authentication failed"
	// ReasonBadSignature: the signature does not match the topic, ID, key,
	// signed metadata and payload, or a signed header is missing.
	ReasonBadSignature Reason = "bad signature"
)

// Error is why a message could not be opened or verified (Op "open",
// "verify") or sealed or signed (Op "seal", "sign"). The handler
// middleware return it wrapped in transport.Permanent, so that Retry gives
// up at once and DeadLetter moves the message away after one attempt; find
// it with errors.As.
//
// It names the topic, the message ID and the key ID, never key material.
type Error struct {
	Op     string
	Reason Reason
	Topic  string
	ID     string // the message ID
	KeyID  string // the key ID the envelope names, "" when none
	Detail string // more about Reason, for people
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("secure: ")
	b.WriteString(e.Op)
	if e.ID != "" || e.Topic != "" {
		b.WriteString(" message ")
		b.WriteString(strconv.Quote(sanitize(e.ID)))
		b.WriteString(" of topic ")
		b.WriteString(strconv.Quote(sanitize(e.Topic)))
	}
	b.WriteString(": ")
	b.WriteString(string(e.Reason))
	if e.KeyID != "" {
		b.WriteString(" (key ")
		b.WriteString(strconv.Quote(sanitize(e.KeyID)))
		b.WriteString(")")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}
