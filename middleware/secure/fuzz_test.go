package secure

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

// fuzzRing is the ring every fuzz input is opened and verified with: the
// key of the first encryption test vector, so that the seed corpus starts
// from messages that open.
func fuzzRing() *Keyring {
	r, _ := NewKeyring(Key{ID: "enc-key-1", Secret: testKey("enc-key-1")})
	return r
}

// FuzzOpen feeds the envelope decoders (Open's and Verify's) arbitrary
// headers and payloads: they must never panic, and whatever they accept
// must be what was sealed: an input that opens must carry the envelope, and
// opening twice gives the same result. The seed corpus in
// testdata/fuzz/FuzzOpen holds sealed and signed messages and broken ones.
//
//	go test -run '^$' -fuzz FuzzOpen -fuzztime 30s ./middleware/secure/
func FuzzOpen(f *testing.F) {
	raw, err := jsonVectors()
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range raw.Encryption {
		md, _ := json.Marshal(v.SealedMetadata)
		p, _ := b64dec(v.SealedPayload)
		f.Add(v.Topic, v.ID, v.MessageKey, string(md), p)
	}
	for _, v := range raw.Signatures {
		md, _ := json.Marshal(v.Signed)
		p, _ := b64dec(v.Payload)
		f.Add(v.Topic, v.ID, v.MessageKey, string(md), p)
	}
	ring := fuzzRing()
	hmacRing, _ := NewKeyring(Key{ID: "sig-key-1", Secret: testKey("hmac-sha256")})
	f.Fuzz(func(t *testing.T, topic, id, key, mdJSON string, payload []byte) {
		var md transport.Metadata
		if json.Unmarshal([]byte(mdJSON), &md) != nil {
			// Still fuzz the decoders with what there is: a few headers
			// taken from the raw text.
			md = transport.Metadata{HeaderEnc: SchemeAES256GCM, HeaderEncKeyID: "enc-key-1", HeaderEncMetadata: mdJSON,
				HeaderSig: mdJSON, HeaderSigAlg: SchemeHMACSHA256, HeaderSigKeyID: "sig-key-1", HeaderSigMetadata: mdJSON}
		}
		m := &transport.Message{Topic: topic, ID: id, Key: key, Payload: payload, Metadata: md}
		before := m.Copy()
		opened, e := openMessage(ring, m)
		if (opened == nil) == (e == nil) {
			t.Fatalf("openMessage returned %v and %v", opened, e)
		}
		if e != nil && (e.Reason == "" || e.Op != "open") {
			t.Fatalf("error without a reason: %#v", e)
		}
		if opened != nil {
			if md[HeaderEnc] != SchemeAES256GCM {
				t.Fatal("opened a message without the envelope")
			}
			again, e2 := openMessage(ring, m)
			if e2 != nil || !bytes.Equal(again.Payload, opened.Payload) || !maps.Equal(again.Metadata, opened.Metadata) {
				t.Fatal("opening is not deterministic")
			}
		}
		for _, alg := range []Algorithm{HMACSHA256, Ed25519} {
			verified, e := verifyMessage(alg, hmacRing, m)
			if (verified == nil) == (e == nil) {
				t.Fatalf("verifyMessage returned %v and %v", verified, e)
			}
			if verified != nil && md[HeaderSigAlg] != string(alg) {
				t.Fatal("verified under another algorithm")
			}
		}
		if !bytes.Equal(m.Payload, before.Payload) || !maps.Equal(m.Metadata, before.Metadata) {
			t.Fatal("the decoders changed the delivered message")
		}
		// The encrypted-headers decoder on its own.
		if hs, err := decodeHeaders(payload); err == nil {
			back, _ := encodeHeaders(hs)
			if !bytes.Equal(back, payload) {
				t.Fatal("decodeHeaders accepted a non-canonical encoding")
			}
		}
	})
}

// FuzzParseKeys: the key file parser never panics, and what it accepts has
// valid IDs and a primary among its keys.
func FuzzParseKeys(f *testing.F) {
	f.Add("k2=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=,k1=AAAA,!k0")
	f.Add("# c\n\n a = b ,!")
	f.Fuzz(func(t *testing.T, text string) {
		ks, err := ParseKeys(text)
		if err != nil {
			return
		}
		if _, err := NewKeyring(ks.Keys...); err != nil {
			t.Fatalf("ParseKeys accepted keys NewKeyring refuses: %v", err)
		}
		if len(ks.Keys) > 0 && ks.Primary != ks.Keys[0].ID {
			t.Fatal("primary is not the first key")
		}
	})
}
