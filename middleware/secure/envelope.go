package secure

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
)

// The envelope's metadata keys. docs/security.md describes the format for
// consumers in other languages.
const (
	// HeaderEnc names the encryption scheme: SchemeAES256GCM.
	HeaderEnc = "bk-enc"
	// HeaderEncKeyID is the ID of the key that sealed the message.
	HeaderEncKeyID = "bk-enc-kid"
	// HeaderEncMetadata holds the encrypted headers, when there are any:
	// standard base64 of nonce ‖ ciphertext ‖ tag.
	HeaderEncMetadata = "bk-enc-md"

	// HeaderSig is the signature, in standard base64.
	HeaderSig = "bk-sig"
	// HeaderSigAlg names the signature scheme: SchemeEd25519 or
	// SchemeHMACSHA256.
	HeaderSigAlg = "bk-sig-alg"
	// HeaderSigKeyID is the ID of the signer's key.
	HeaderSigKeyID = "bk-sig-kid"
	// HeaderSigMetadata lists the signed headers' names: a JSON array of
	// strings, in ascending byte order.
	HeaderSigMetadata = "bk-sig-md"
)

// Scheme values of HeaderEnc and HeaderSigAlg. The "v1." prefix is the
// envelope version: a later format gets a new value, so a consumer refuses
// what it cannot read (ReasonUnsupported) instead of misreading it.
const (
	SchemeAES256GCM  = "v1.aes-256-gcm"
	SchemeEd25519    = "v1.ed25519"
	SchemeHMACSHA256 = "v1.hmac-sha256"
)

// Domain labels open the associated data and the signed bytes, so that
// neither can be taken for the other or for another protocol's.
const (
	encDomain = "brokerkit-enc"
	sigDomain = "brokerkit-sig"
	// partPayload and partMetadata separate the payload's associated data
	// from the encrypted headers', so one cannot be swapped for the other.
	partPayload  = "payload"
	partMetadata = "metadata"
)

const (
	nonceSize = 12 // AES-GCM's standard nonce
	tagSize   = 16
)

var errTooLong = errors.New("field longer than 4 GiB - 1")

// appendField appends s with a 4-byte big-endian length before it: the
// encoding of every field of the associated data and the signed bytes,
// which makes their concatenation unambiguous.
func appendField(b []byte, s string) ([]byte, error) {
	if uint64(len(s)) > 0xFFFFFFFF {
		return nil, errTooLong
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...), nil
}

// appendFields appends each string as appendField does.
func appendFields(b []byte, fields ...string) ([]byte, error) {
	var err error
	for _, f := range fields {
		if b, err = appendField(b, f); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// encAAD is the associated data of the payload (part "payload") or of the
// encrypted headers (part "metadata"):
//
//	field("brokerkit-enc") field(scheme) field(keyID) field(part) field(topic) field(id) field(key)
func encAAD(scheme, keyID, part, topic, id, key string) ([]byte, error) {
	n := 4*7 + len(encDomain) + len(scheme) + len(keyID) + len(part) + len(topic) + len(id) + len(key)
	return appendFields(make([]byte, 0, n), encDomain, scheme, keyID, part, topic, id, key)
}

// signedBytes is what a signature covers:
//
//	field("brokerkit-sig") field(scheme) field(keyID) field(topic) field(id) field(key)
//	uint32(count of signed headers) { field(name) field(value) } in ascending name order
//	field(payload)
func signedBytes(scheme, keyID, topic, id, key string, names []string, md map[string]string, payload []byte) ([]byte, error) {
	prefix, err := signedPrefix(scheme, keyID, topic, id, key, names, md, payload, len(payload))
	if err != nil {
		return nil, err
	}
	return append(prefix, payload...), nil
}

// signedPrefix is signedBytes without the payload's bytes (its length
// prefix included), so that an HMAC can hash the payload in place rather
// than copy it. room is the spare capacity to leave for the payload.
func signedPrefix(scheme, keyID, topic, id, key string, names []string, md map[string]string, payload []byte, room int) ([]byte, error) {
	// 6 fields, the header count and the payload length: 8 four-byte prefixes.
	n := 4*8 + len(sigDomain) + len(scheme) + len(keyID) + len(topic) + len(id) + len(key) + room
	for _, k := range names {
		n += 8 + len(k) + len(md[k])
	}
	b, err := appendFields(make([]byte, 0, n), sigDomain, scheme, keyID, topic, id, key)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, k := range names {
		if b, err = appendFields(b, k, md[k]); err != nil {
			return nil, err
		}
	}
	if uint64(len(payload)) > 0xFFFFFFFF {
		return nil, errTooLong
	}
	return binary.BigEndian.AppendUint32(b, uint32(len(payload))), nil
}

// encodeHeaders is the plaintext of HeaderEncMetadata:
//
//	uint32(count) { field(name) field(value) } in ascending name order
func encodeHeaders(md map[string]string) ([]byte, error) {
	names := make([]string, 0, len(md))
	n := 4
	for k, v := range md {
		names = append(names, k)
		n += 8 + len(k) + len(v)
	}
	slices.Sort(names)
	b := binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(len(names)))
	var err error
	for _, k := range names {
		if b, err = appendFields(b, k, md[k]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// decodeHeaders reads what encodeHeaders wrote, refusing anything but that
// exact form: short or trailing bytes, names out of order or repeated.
func decodeHeaders(b []byte) (map[string]string, error) {
	errBad := errors.New("encrypted headers do not decode")
	if len(b) < 4 {
		return nil, errBad
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	// Each entry takes at least 8 bytes: a count larger than that allows
	// is a lie, and must not size an allocation.
	if uint64(count) > uint64(len(b))/8 {
		return nil, errBad
	}
	md := make(map[string]string, count)
	prev := ""
	for i := range count {
		var name, value string
		var ok bool
		if name, b, ok = readField(b); !ok {
			return nil, errBad
		}
		if value, b, ok = readField(b); !ok {
			return nil, errBad
		}
		if i > 0 && name <= prev {
			return nil, errBad
		}
		prev = name
		md[name] = value
	}
	if len(b) != 0 {
		return nil, errBad
	}
	return md, nil
}

func readField(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", nil, false
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return "", nil, false
	}
	return string(b[:n]), b[n:], true
}

// isEnvelopeHeader reports the envelope's own keys, which a message to be
// sealed or signed may not already carry under the same role.
func isEncHeader(k string) bool {
	return k == HeaderEnc || k == HeaderEncKeyID || k == HeaderEncMetadata
}

func isSigHeader(k string) bool {
	return k == HeaderSig || k == HeaderSigAlg || k == HeaderSigKeyID || k == HeaderSigMetadata
}

// traceHeaders stay in clear with EncryptAllMetadata: tracing middleware
// outside Open must read them.
var traceHeaders = []string{"traceparent", "tracestate", "baggage"}

func isTraceHeader(k string) bool {
	for _, t := range traceHeaders {
		if strings.EqualFold(k, t) {
			return true
		}
	}
	return false
}
