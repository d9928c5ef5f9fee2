package secure

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"reflect"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

// go test -run TestVectors -update ./middleware/secure/ rewrites the file
// from the fixed inputs below; the test then checks that the code still
// produces exactly what the file says, and opens and verifies it.
var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

const vectorsFile = "testdata/vectors.json"

type vectorFile struct {
	Comment    string          `json:"comment"`
	Encryption []encryptVector `json:"encryption"`
	Signatures []signVector    `json:"signatures"`
}

// Byte strings are in standard base64; strings are UTF-8 JSON strings.
type encryptVector struct {
	Name            string            `json:"name"`
	KeyID           string            `json:"key_id"`
	Key             string            `json:"key"`
	Topic           string            `json:"topic"`
	ID              string            `json:"id"`
	MessageKey      string            `json:"message_key"`
	Payload         string            `json:"payload"`
	Metadata        map[string]string `json:"metadata"`
	EncryptMetadata []string          `json:"encrypt_metadata"`
	PayloadNonce    string            `json:"payload_nonce"`
	MetadataNonce   string            `json:"metadata_nonce,omitempty"`
	PayloadAAD      string            `json:"payload_aad"`
	MetadataAAD     string            `json:"metadata_aad,omitempty"`
	MetadataPlain   string            `json:"metadata_plaintext,omitempty"`
	SealedPayload   string            `json:"sealed_payload"`
	SealedMetadata  map[string]string `json:"sealed_metadata"`
}

type signVector struct {
	Name        string            `json:"name"`
	Algorithm   string            `json:"algorithm"`
	KeyID       string            `json:"key_id"`
	Key         string            `json:"key"`                  // HMAC secret, or Ed25519 seed
	PublicKey   string            `json:"public_key,omitempty"` // Ed25519 only
	Topic       string            `json:"topic"`
	ID          string            `json:"id"`
	MessageKey  string            `json:"message_key"`
	Payload     string            `json:"payload"`
	Metadata    map[string]string `json:"metadata"`
	SignedBytes string            `json:"signed_bytes"`
	Signature   string            `json:"signature"`
	Signed      map[string]string `json:"signed_metadata"`
}

func testKey(label string) []byte {
	s := sha256.Sum256([]byte("brokerkit test vector key: " + label))
	return s[:]
}

func testNonce(label string) []byte { return testKey("nonce: " + label)[:nonceSize] }

var b64 = base64.StdEncoding.EncodeToString

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// generateVectors computes the vectors from fixed inputs with the package's
// own code.
func generateVectors(t *testing.T) vectorFile {
	vf := vectorFile{Comment: "brokerkit message envelope v1 test vectors; see docs/security.md. " +
		"Byte strings are standard base64 (RFC 4648 section 4, padded). Regenerate with: " +
		"go test -run TestVectors -update ./middleware/secure/"}
	encInputs := []struct {
		name, topic, id, key, payload string
		md                            map[string]string
		encrypt                       []string
	}{
		{"payload only", "orders", "msg-1", "customer-7", `{"amount":42}`, map[string]string{"content-type": "application/json"}, nil},
		{"empty payload, no key, no metadata", "t", "id", "", "", nil, nil},
		{"encrypted headers", "payments", "01HZX", "acct-9", "card 4111", map[string]string{"content-type": "text/plain", "customer": "Zoë", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "empty": ""}, []string{"customer", "empty"}},
	}
	for _, in := range encInputs {
		kid := "enc-key-1"
		secret := testKey(kid)
		ring, _ := NewKeyring(Key{ID: kid, Secret: secret})
		pn, mn := testNonce(in.name+"/payload"), testNonce(in.name+"/metadata")
		c, err := newConfig(roleSeal, []Option{EncryptMetadata(in.encrypt...), WithNonceSource(bytes.NewReader(append(slicesClone(pn), mn...)))})
		if err != nil {
			t.Fatal(err)
		}
		k, err := sealKey(ring)
		if err != nil {
			t.Fatal(err)
		}
		m := &transport.Message{ID: in.id, Key: in.key, Payload: []byte(in.payload), Metadata: in.md}
		sealed, err := sealMessage(k, c.nonce, c, in.topic, m)
		if err != nil {
			t.Fatal(err)
		}
		v := encryptVector{Name: in.name, KeyID: kid, Key: b64(secret), Topic: in.topic, ID: in.id, MessageKey: in.key,
			Payload: b64([]byte(in.payload)), Metadata: in.md, EncryptMetadata: in.encrypt, PayloadNonce: b64(pn),
			SealedPayload: b64(sealed.Payload), SealedMetadata: sealed.Metadata}
		aad, _ := encAAD(SchemeAES256GCM, kid, partPayload, in.topic, in.id, in.key)
		v.PayloadAAD = b64(aad)
		if _, ok := sealed.Metadata[HeaderEncMetadata]; ok {
			v.MetadataNonce = b64(mn)
			aad, _ := encAAD(SchemeAES256GCM, kid, partMetadata, in.topic, in.id, in.key)
			v.MetadataAAD = b64(aad)
			secret := map[string]string{}
			for _, n := range in.encrypt {
				if val, ok := in.md[n]; ok {
					secret[n] = val
				}
			}
			plain, _ := encodeHeaders(secret)
			v.MetadataPlain = b64(plain)
		}
		if v.Metadata == nil {
			v.Metadata = map[string]string{}
		}
		if v.EncryptMetadata == nil {
			v.EncryptMetadata = []string{}
		}
		vf.Encryption = append(vf.Encryption, v)
	}

	sigInputs := []struct {
		name string
		alg  Algorithm
		md   map[string]string
	}{
		{"ed25519", Ed25519, map[string]string{"content-type": "application/json", "b": "2", "a": "1"}},
		{"hmac-sha256", HMACSHA256, map[string]string{"content-type": "application/json", "empty": ""}},
		{"ed25519, no metadata", Ed25519, nil},
	}
	for _, in := range sigInputs {
		kid := "sig-key-1"
		secret := testKey(in.name)
		ring, _ := NewKeyring(Key{ID: kid, Secret: secret})
		_, s, err := signingKey(in.alg, ring)
		if err != nil {
			t.Fatal(err)
		}
		m := &transport.Message{ID: "msg-7", Key: "k", Payload: []byte("hello, world"), Metadata: in.md}
		signed, err := signMessage(in.alg, kid, s, "invoices", m)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		_ = json.Unmarshal([]byte(signed.Metadata[HeaderSigMetadata]), &names)
		sb, _ := signedBytes(string(in.alg), kid, "invoices", m.ID, m.Key, names, m.Metadata, m.Payload)
		v := signVector{Name: in.name, Algorithm: string(in.alg), KeyID: kid, Key: b64(secret), Topic: "invoices",
			ID: m.ID, MessageKey: m.Key, Payload: b64(m.Payload), Metadata: in.md, SignedBytes: b64(sb),
			Signature: signed.Metadata[HeaderSig], Signed: signed.Metadata}
		if in.alg == Ed25519 {
			v.PublicKey = b64(ed25519.NewKeyFromSeed(secret).Public().(ed25519.PublicKey))
		}
		if v.Metadata == nil {
			v.Metadata = map[string]string{}
		}
		vf.Signatures = append(vf.Signatures, v)
	}
	return vf
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestVectors(t *testing.T) {
	got := generateVectors(t)
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want vectorFile
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Encryption) == 0 || len(want.Signatures) == 0 {
		t.Fatal("vector file has no vectors")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the code no longer produces %s: the envelope format changed", vectorsFile)
	}

	// Open and verify the file's vectors from their inputs only, as a
	// consumer in another language would.
	for _, v := range want.Encryption {
		t.Run("open/"+v.Name, func(t *testing.T) {
			ring, _ := NewKeyring(Key{ID: v.KeyID, Secret: unb64(t, v.Key)})
			m := &transport.Message{Topic: v.Topic, ID: v.ID, Key: v.MessageKey, Payload: unb64(t, v.SealedPayload), Metadata: v.SealedMetadata}
			if !bytes.Equal(unb64(t, v.SealedPayload)[:nonceSize], unb64(t, v.PayloadNonce)) {
				t.Error("sealed payload does not start with its nonce")
			}
			opened, e := openMessage(ring, m)
			if e != nil {
				t.Fatal(e)
			}
			if string(opened.Payload) != string(unb64(t, v.Payload)) {
				t.Errorf("payload %q, want %q", opened.Payload, unb64(t, v.Payload))
			}
			if !maps.Equal(opened.Metadata, transport.Metadata(v.Metadata)) {
				t.Errorf("metadata %v, want %v", opened.Metadata, v.Metadata)
			}
		})
	}
	for _, v := range want.Signatures {
		t.Run("verify/"+v.Name, func(t *testing.T) {
			key := unb64(t, v.Key)
			if v.PublicKey != "" {
				key = unb64(t, v.PublicKey)
			}
			ring, _ := NewKeyring(Key{ID: v.KeyID, Secret: key})
			m := &transport.Message{Topic: v.Topic, ID: v.ID, Key: v.MessageKey, Payload: unb64(t, v.Payload), Metadata: v.Signed}
			verified, e := verifyMessage(Algorithm(v.Algorithm), ring, m)
			if e != nil {
				t.Fatal(e)
			}
			if !maps.Equal(verified.Metadata, transport.Metadata(v.Metadata)) {
				t.Errorf("metadata %v, want %v", verified.Metadata, v.Metadata)
			}
		})
	}
}

func jsonVectors() (vectorFile, error) {
	var vf vectorFile
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		return vf, err
	}
	return vf, json.Unmarshal(raw, &vf)
}

func b64dec(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
