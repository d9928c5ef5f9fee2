package middleware

import (
	"context"
	"sync"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// DefaultMemoryStoreSize is how many keys a MemoryStore holds unless
// MemoryStoreSize says otherwise.
const DefaultMemoryStoreSize = 100_000

// MemoryStoreOption configures NewMemoryStore.
type MemoryStoreOption func(*MemoryStore) error

// MemoryStoreSize bounds how many keys (claimed or done) the store holds.
// When it is full, expired keys go first, then the least recently touched
// one, which may make a late duplicate of it be handled again. Default
// 100000 (some 10 MB with 40-byte keys).
func MemoryStoreSize(n int) MemoryStoreOption {
	return func(s *MemoryStore) error {
		if n < 1 {
			return transport.Invalidf("MemoryStoreSize: %d is less than 1", n)
		}
		s.size = n
		return nil
	}
}

// MemoryStore is a Store for one process: deduplication across the
// subscriptions of one process, not across processes. It starts no
// goroutine: expired keys are dropped lazily, when met or when room is
// needed, so there is nothing to stop.
type MemoryStore struct {
	size int
	now  func() time.Time

	mu   sync.Mutex
	keys map[string]*memEntry
	// Entries form a list by last touch, oldest first, so eviction and
	// lazy expiry look at the front only.
	head, tail *memEntry
}

type memEntry struct {
	key        string
	token      string // "" once done
	expires    time.Time
	prev, next *memEntry
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(opts ...MemoryStoreOption) (*MemoryStore, error) {
	s := &MemoryStore{size: DefaultMemoryStoreSize, now: time.Now, keys: map[string]*memEntry{}}
	if err := apply(s, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// Claim implements Store.
func (s *MemoryStore) Claim(_ context.Context, key, token string, lease time.Duration) (ClaimResult, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[key]; ok {
		switch {
		case !now.Before(e.expires):
			// Expired: reuse the entry as a fresh claim.
		case e.token == "":
			return Done, nil
		case e.token != token:
			return Busy, nil
		}
		e.token, e.expires = token, now.Add(lease)
		s.touch(e)
		return Claimed, nil
	}
	e := s.insert(key, now)
	e.token, e.expires = token, now.Add(lease)
	return Claimed, nil
}

// insert adds an entry for key at the back of the list, making room first;
// an evicted entry is reused, which saves an allocation per key once the
// store is full.
func (s *MemoryStore) insert(key string, now time.Time) *memEntry {
	s.expire(now)
	var e *memEntry
	for len(s.keys) >= s.size {
		e = s.head
		s.remove(e)
	}
	if e == nil {
		e = &memEntry{}
	}
	e.key = key
	s.keys[key] = e
	s.pushBack(e)
	return e
}

// MarkDone implements Store.
func (s *MemoryStore) MarkDone(_ context.Context, key string, ttl time.Duration) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[key]
	if !ok {
		// Evicted while being handled: remember it again.
		e = s.insert(key, now)
	}
	e.token, e.expires = "", now.Add(ttl)
	s.touch(e)
	return nil
}

// Release implements Store.
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[key]; ok && e.token == token {
		s.remove(e)
	}
	return nil
}

// Len returns how many keys the store holds, expired ones not yet dropped
// included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// expire drops expired entries from the front of the list. Entries further
// back may have expired too (a short lease touched after a long TTL); they
// are dropped when met by Claim or evicted when room is needed.
func (s *MemoryStore) expire(now time.Time) {
	for s.head != nil && !now.Before(s.head.expires) {
		s.remove(s.head)
	}
}

func (s *MemoryStore) remove(e *memEntry) {
	delete(s.keys, e.key)
	s.unlink(e)
}

func (s *MemoryStore) touch(e *memEntry) {
	if s.tail != e {
		s.unlink(e)
		s.pushBack(e)
	}
}

func (s *MemoryStore) pushBack(e *memEntry) {
	e.prev, e.next = s.tail, nil
	if s.tail != nil {
		s.tail.next = e
	} else {
		s.head = e
	}
	s.tail = e
}

func (s *MemoryStore) unlink(e *memEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

var _ Store = (*MemoryStore)(nil)
