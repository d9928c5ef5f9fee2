package secure

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/brokerkit/brokerkit/transport"
)

// Key is one key with its ID. Its Secret never shows in fmt, %v, %+v, %#v
// or slog output: those print the ID and the length only.
type Key struct {
	// ID names the key in the envelope's headers: 1 to 64 bytes of
	// A-Z a-z 0-9 . _ -
	ID string
	// Secret is the key material: 32 bytes for AES-256-GCM, at least 32
	// for HMAC-SHA256, a 32-byte Ed25519 seed to sign, a 32-byte Ed25519
	// public key to verify.
	Secret []byte
}

// String describes the key without its material.
func (k Key) String() string { return fmt.Sprintf("secure.Key{ID: %q, %d bytes}", k.ID, len(k.Secret)) }

// GoString is String, so that %#v does not print the material either.
func (k Key) GoString() string { return k.String() }

// Format makes every verb print String.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue keeps the material out of slog records.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.Int("bytes", len(k.Secret)))
}

// GenerateKey returns a key of 32 random bytes, usable for AES-256-GCM,
// HMAC-SHA256 and as an Ed25519 seed.
func GenerateKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	k := Key{ID: id, Secret: make([]byte, 32)}
	if _, err := rand.Read(k.Secret); err != nil {
		return Key{}, fmt.Errorf("secure: reading random bytes: %w", err)
	}
	return k, nil
}

// KeySet is what a KeySource hands a Keyring: every key it should hold, the
// primary among them, and the IDs of retired keys.
type KeySet struct {
	// Primary is the ID of the key that seals and signs; it must be in Keys.
	// Empty: a ring that only opens or verifies.
	Primary string
	// Keys are the keys that open or verify, the primary included.
	Keys []Key
	// Retired are IDs of keys no longer trusted: their messages are
	// refused with ReasonRetiredKey rather than ReasonUnknownKey.
	Retired []string
}

// KeySource supplies keys: the environment, a file, or a KMS or vault
// (implement LoadKeys to fetch and unwrap them). Keyring.Load calls it.
type KeySource interface {
	LoadKeys(ctx context.Context) (KeySet, error)
}

// KeySourceFunc adapts a function to a KeySource.
type KeySourceFunc func(ctx context.Context) (KeySet, error)

// LoadKeys calls f.
func (f KeySourceFunc) LoadKeys(ctx context.Context) (KeySet, error) { return f(ctx) }

// EnvKeys reads keys from the environment variable name, in the format of
// ParseKeys, each time LoadKeys is called.
func EnvKeys(name string) KeySource {
	return KeySourceFunc(func(context.Context) (KeySet, error) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return KeySet{}, transport.Invalidf("secure: environment variable %s is not set", name)
		}
		ks, err := ParseKeys(v)
		if err != nil {
			return KeySet{}, fmt.Errorf("secure: environment variable %s: %w", name, err)
		}
		return ks, nil
	})
}

// FileKeys reads keys from the file at path, in the format of ParseKeys,
// each time LoadKeys is called.
func FileKeys(path string) KeySource {
	return KeySourceFunc(func(context.Context) (KeySet, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return KeySet{}, fmt.Errorf("secure: reading keys: %w", err)
		}
		ks, err := ParseKeys(string(b))
		if err != nil {
			return KeySet{}, fmt.Errorf("secure: keys file %s: %w", path, err)
		}
		return ks, nil
	})
}

// ParseKeys reads the text form of a KeySet: entries separated by newlines
// or commas, blank entries and lines starting with # ignored. An entry is
// either
//
//	ID=BASE64   a key: its ID, "=", its material in standard base64 (RFC 4648 §4, padded)
//	!ID         a retired key
//
// The first key is the primary. For example, in the environment:
//
//	BROKERKIT_KEYS='k2=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=,k1=...,!k0'
//
// Errors name the entry by its position only: a malformed entry may have
// key material where its ID should be.
func ParseKeys(text string) (KeySet, error) {
	var ks KeySet
	seen := map[string]bool{}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			if id, ok := strings.CutPrefix(entry, "!"); ok {
				if err := checkKeyID(id); err != nil {
					return KeySet{}, fmt.Errorf("entry %d: %w", n, err)
				}
				if seen[id] {
					return KeySet{}, transport.Invalidf("entry %d: repeats the ID of an earlier entry", n)
				}
				seen[id] = true
				ks.Retired = append(ks.Retired, id)
				continue
			}
			id, b64, ok := strings.Cut(entry, "=")
			if !ok {
				return KeySet{}, transport.Invalidf("entry %d: want ID=BASE64 or !ID", n)
			}
			if err := checkKeyID(id); err != nil {
				return KeySet{}, fmt.Errorf("entry %d: %w", n, err)
			}
			if seen[id] {
				return KeySet{}, transport.Invalidf("entry %d: repeats the ID of an earlier entry", n)
			}
			seen[id] = true
			// The decoder's error would quote the offending byte offset
			// only, but say nothing of it anyway: it is about key material.
			secret, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(secret) == 0 {
				return KeySet{}, transport.Invalidf("entry %d: the key is not non-empty standard base64", n)
			}
			if ks.Primary == "" {
				ks.Primary = id
			}
			ks.Keys = append(ks.Keys, Key{ID: id, Secret: secret})
		}
	}
	if err := sc.Err(); err != nil {
		return KeySet{}, transport.Invalidf("reading keys: line too long")
	}
	return ks, nil
}

// checkKeyID accepts IDs that travel in a header unchanged on every backend
// and read well in an error.
func checkKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return transport.Invalidf("key ID must have 1 to 64 bytes, not %d", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			// The ID is not quoted: a malformed entry may have put key
			// material where the ID should be.
			return transport.Invalidf("key ID with a byte outside A-Z a-z 0-9 . _ - at offset %d", i)
		}
	}
	return nil
}

// sanitize makes an untrusted ID printable and short, for errors and logs.
func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// Keyring holds keys by ID: one primary that seals or signs, any number of
// others that still open or verify, and the IDs of retired keys. It is safe
// for concurrent use, and every change takes effect on the next message, so
// keys rotate without a restart:
//
//  1. every consumer adds key 2 (Add), and opens messages sealed with 1 or 2;
//  2. every producer adds key 2 and makes it primary (SetPrimary);
//  3. once no message sealed with key 1 is left to read, consumers Retire it.
//
// The same type serves AES-256-GCM and HMAC-SHA256 secrets, Ed25519 seeds
// (to sign) and Ed25519 public keys (to verify); the middleware check the
// size of a key when they use it.
type Keyring struct {
	mu      sync.RWMutex
	keys    map[string]*entry
	primary string
	retired map[string]bool
}

// entry is a key's material with what the middleware built from it (an
// AEAD, an Ed25519 private key), built once per key and kind.
type entry struct {
	secret  []byte
	mu      sync.Mutex
	derived map[string]any
}

func (e *entry) derive(kind string, build func(secret []byte) (any, error)) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.derived[kind]; ok {
		return v, nil
	}
	v, err := build(e.secret)
	if err != nil {
		return nil, err
	}
	if e.derived == nil {
		e.derived = map[string]any{}
	}
	e.derived[kind] = v
	return v, nil
}

// String describes the ring by key IDs only, so that printing a Keyring
// (or a struct holding one) never shows material.
func (r *Keyring) String() string {
	r.mu.RLock()
	retired := make([]string, 0, len(r.retired))
	for id := range r.retired {
		retired = append(retired, id)
	}
	primary := r.primary
	r.mu.RUnlock()
	slices.Sort(retired)
	return fmt.Sprintf("secure.Keyring{primary: %q, keys: %q, retired: %q}", primary, r.IDs(), retired)
}

// GoString is String, for %#v.
func (r *Keyring) GoString() string { return r.String() }

// LogValue keeps the material out of slog records.
func (r *Keyring) LogValue() slog.Value { return slog.StringValue(r.String()) }

// NewKeyring returns a keyring holding keys, the first one primary. With
// no keys it is empty; Add and SetPrimary or Load fill it.
func NewKeyring(keys ...Key) (*Keyring, error) {
	r := &Keyring{keys: map[string]*entry{}, retired: map[string]bool{}}
	for _, k := range keys {
		if err := r.Add(k); err != nil {
			return nil, err
		}
	}
	if len(keys) > 0 {
		r.primary = keys[0].ID
	}
	return r, nil
}

// Add adds a key that opens or verifies from now on. Its Secret is copied.
// An ID already in the ring, or retired, is refused: a key ID names one
// key forever.
func (r *Keyring) Add(k Key) error {
	if err := checkKeyID(k.ID); err != nil {
		return err
	}
	if len(k.Secret) == 0 {
		return transport.Invalidf("key %q: empty secret", k.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys, r.retired = map[string]*entry{}, map[string]bool{}
	}
	if r.retired[k.ID] {
		return transport.Invalidf("key %q was retired; use a new ID", k.ID)
	}
	if _, ok := r.keys[k.ID]; ok {
		return transport.Invalidf("key %q is already in the ring", k.ID)
	}
	r.keys[k.ID] = &entry{secret: slices.Clone(k.Secret)}
	return nil
}

// SetPrimary makes the key id the one that seals or signs from the next
// message on.
func (r *Keyring) SetPrimary(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[id]; !ok {
		return transport.Invalidf("SetPrimary: no key %q in the ring", sanitize(id))
	}
	r.primary = id
	return nil
}

// Primary returns the primary key's ID, or "" when there is none.
func (r *Keyring) Primary() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.primary
}

// IDs returns the IDs of the keys that open or verify, sorted.
func (r *Keyring) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Retire removes the key id and its material from the ring; messages that
// name it are then refused with ReasonRetiredKey. The primary cannot be
// retired: make another key primary first.
func (r *Keyring) Retire(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := checkKeyID(id); err != nil {
		return err
	}
	if id == r.primary {
		return transport.Invalidf("Retire: key %q is the primary; make another key primary first", id)
	}
	// The material is dropped, not zeroed: a handler that looked the key up
	// just before may still be using it (and Go cannot promise that no
	// copy remains anyway).
	delete(r.keys, id)
	if r.retired == nil {
		r.retired = map[string]bool{}
	}
	r.retired[id] = true
	return nil
}

// Load replaces the ring's contents with what src supplies, at once: a
// message is handled with the old contents or the new, never a mix. Use it
// at start-up and whenever the source may have changed (a timer, a SIGHUP,
// a KMS notification). On error the ring is unchanged.
func (r *Keyring) Load(ctx context.Context, src KeySource) error {
	if src == nil {
		return transport.Invalidf("Load: nil KeySource")
	}
	ks, err := src.LoadKeys(ctx)
	if err != nil {
		return err
	}
	fresh, err := NewKeyring(ks.Keys...)
	if err != nil {
		return err
	}
	for _, id := range ks.Retired {
		if _, ok := fresh.keys[id]; ok {
			return transport.Invalidf("Load: key %q is both present and retired", id)
		}
		if err := checkKeyID(id); err != nil {
			return err
		}
		fresh.retired[id] = true
	}
	fresh.primary = ks.Primary
	if ks.Primary != "" {
		if _, ok := fresh.keys[ks.Primary]; !ok {
			return transport.Invalidf("Load: primary key %q is not among the keys", sanitize(ks.Primary))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys, r.primary, r.retired = fresh.keys, fresh.primary, fresh.retired
	return nil
}

// lookup finds the key id, or says why it cannot be used.
func (r *Keyring) lookup(id string) (*entry, Reason) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.keys[id]; ok {
		return e, ""
	}
	if r.retired[id] {
		return nil, ReasonRetiredKey
	}
	return nil, ReasonUnknownKey
}

// primaryEntry returns the primary key and its ID.
func (r *Keyring) primaryEntry() (string, *entry) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.primary == "" {
		return "", nil
	}
	return r.primary, r.keys[r.primary]
}
