package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/redisstore"
	"github.com/brokerkit/brokerkit/transport"
)

// newClient connects to REDIS_URL. Without it the test is skipped, or fails
// when BROKERTEST_REQUIRE=1, as brokertest does for brokers.
func newClient(t *testing.T) *redis.Client {
	t.Helper()
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		if os.Getenv("BROKERTEST_REQUIRE") == "1" {
			t.Fatal("REDIS_URL is not set (BROKERTEST_REQUIRE=1: a missing dependency fails the test)")
		}
		t.Skip("set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the Redis store tests; BROKERTEST_REQUIRE=1 makes this a failure")
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("REDIS_URL %s: %v", transport.RedactString(raw), err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", transport.RedactString(raw), err)
	}
	return rdb
}

// uniquePrefix keeps runs apart, and removes the run's keys at cleanup.
func uniquePrefix(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "brokerkit-test:" + t.Name() + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return p
}

func newStore(t *testing.T, rdb *redis.Client, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreClaimLifecycle(t *testing.T) {
	rdb := newClient(t)
	prefix := uniquePrefix(t, rdb)
	s := newStore(t, rdb, prefix)
	ctx := context.Background()
	claim := func(token string, lease time.Duration, want middleware.ClaimResult) {
		t.Helper()
		if got, err := s.Claim(ctx, "k", token, lease); err != nil || got != want {
			t.Fatalf("Claim(%s) = %v, %v; want %v", token, got, err, want)
		}
	}
	claim("a", time.Minute, middleware.Claimed)
	claim("b", time.Minute, middleware.Busy)
	claim("a", time.Minute, middleware.Claimed) // the holder may claim again
	if err := s.Release(ctx, "k", "b"); err != nil {
		t.Fatal(err)
	}
	claim("b", time.Minute, middleware.Busy) // b's release did not drop a's claim
	if err := s.Release(ctx, "k", "a"); err != nil {
		t.Fatal(err)
	}
	claim("b", time.Millisecond, middleware.Claimed)
	// b "crashes"; once its lease ran out, c may take over.
	for deadline := time.Now().Add(10 * time.Second); ; {
		got, err := s.Claim(ctx, "k", "c", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got == middleware.Claimed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired lease still blocks the key")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.MarkDone(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	claim("d", time.Minute, middleware.Done)
	if err := s.Release(ctx, "k", "c"); err != nil {
		t.Fatal(err)
	}
	claim("d", time.Minute, middleware.Done) // a late release does not undo done
	ttl, err := rdb.PTTL(ctx, prefix+"k").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("done key's TTL %v, %v; want within the hour given", ttl, err)
	}
}

func TestStoreDownIsUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "hunter2", MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	s, err := redisstore.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Claim(context.Background(), "k", "t", time.Second)
	if !errors.Is(err, transport.ErrUnavailable) || !transport.Retryable(err) {
		t.Errorf("err = %v, want a retryable ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := redisstore.New(nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("nil client: err = %v", err)
	}
}

// Two subscriber instances, each with its own Redis client as two processes
// would have, share a group on the memory broker. Every message is published
// twice; each must be handled exactly once, whichever instance gets which
// copy and however they overlap.
func TestTwoInstancesHandleEachDuplicateOnce(t *testing.T) {
	rdb := newClient(t)
	prefix := uniquePrefix(t, rdb)
	broker, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	const messages = 200
	var (
		mu        sync.Mutex
		handled   = map[string]int{}
		byInst    [2]int
		acked     atomic.Int32
		busy      atomic.Int32
		allAcked  = make(chan struct{})
		closeOnce sync.Once
	)
	instance := func(i int) transport.Handler {
		client := redis.NewClient(rdb.Options())
		t.Cleanup(func() { _ = client.Close() })
		dedup, err := middleware.Dedup(newStore(t, client, prefix), middleware.DedupLease(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		handle := func(_ context.Context, m *transport.Message) error {
			mu.Lock()
			handled[m.ID]++
			byInst[i]++
			mu.Unlock()
			time.Sleep(200 * time.Microsecond) // widen the window in which twins overlap
			return nil
		}
		count := func(next transport.Handler) transport.Handler {
			return func(ctx context.Context, m *transport.Message) error {
				err := next(ctx, m)
				switch {
				case err == nil:
					if acked.Add(1) == 2*messages {
						closeOnce.Do(func() { close(allAcked) })
					}
				case errors.Is(err, middleware.ErrBusy):
					busy.Add(1)
				default:
					t.Errorf("instance %d: %v", i, err)
				}
				return err
			}
		}
		return transport.Chain(handle, count, dedup)
	}
	topic, group := "dedup-"+hex.EncodeToString([]byte(prefix[len(prefix)-7:])), "g"
	ctx := context.Background()
	for i := range 2 {
		sub, err := broker.Subscribe(ctx, topic, instance(i), transport.WithGroup(group),
			transport.WithConcurrency(4), transport.WithBackoff(time.Millisecond, 5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	for i := range messages {
		m := &transport.Message{ID: fmt.Sprintf("msg-%d", i), Payload: []byte("x")}
		// The same message, twice in a row: a producer retry after a lost
		// confirm does exactly this.
		if err := broker.Publish(ctx, topic, m); err != nil {
			t.Fatal(err)
		}
		if err := broker.Publish(ctx, topic, &transport.Message{ID: m.ID, Payload: m.Payload}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-allAcked:
	case <-time.After(time.Minute):
		t.Fatalf("only %d of %d deliveries acknowledged", acked.Load(), 2*messages)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != messages {
		t.Errorf("%d distinct messages handled, want %d", len(handled), messages)
	}
	for id, n := range handled {
		if n != 1 {
			t.Errorf("%s handled %d times", id, n)
		}
	}
	t.Logf("handled by instance: %v; busy deliveries redelivered: %d", byInst, busy.Load())
	if byInst[0] == 0 || byInst[1] == 0 {
		t.Errorf("one instance handled nothing (%v): the test did not exercise two instances", byInst)
	}
}

// TestSilentRedis: a Redis that accepts connections and never answers (a
// frozen server) fails each call after the store's own timeout, as
// ErrUnavailable naming it, so Dedup leaves the message for redelivery.
func TestSilentRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { // read and never answer
				defer conns.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1})
	defer rdb.Close()
	if _, err := redisstore.New(rdb, redisstore.WithTimeout(0)); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("WithTimeout(0): %v, want ErrInvalid", err)
	}
	store, err := redisstore.New(rdb, redisstore.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Claim(context.Background(), "k", "tok", time.Second)
	if !errors.Is(err, transport.ErrUnavailable) || !strings.Contains(err.Error(), "WithTimeout") {
		t.Errorf("Claim on a silent Redis: %v, want ErrUnavailable after the store's timeout", err)
	}
	if err := store.MarkDone(context.Background(), "k", time.Second); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("MarkDone on a silent Redis: %v, want ErrUnavailable", err)
	}
}
