package transporttest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// Name returns a name no other test uses, for a topic, queue or group:
// prefix, the test's name and random hex, in characters every backend
// accepts (Kafka's [a-zA-Z0-9._-]), at most 249 bytes.
func Name(t testing.TB, prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, t.Name())
	if len(clean) > 120 {
		clean = clean[len(clean)-120:]
	}
	return prefix + "." + clean + "." + hex.EncodeToString(b[:])
}

// topicName is a fresh topic name that the harness does not create.
func (s *suite) topicName(t testing.TB) string { return Name(t, "bk-missing") }
