package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	_ "github.com/brokerkit/brokerkit/memory" // registers mem://
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/redisstore"
	"github.com/brokerkit/brokerkit/transport"
)

// Deduplication shared by every process that uses the same Redis and prefix:
// a message consumed twice, by this process or another, is handled once.
// Compiled, not run: it needs a Redis.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	store, err := redisstore.New(rdb,
		redisstore.WithPrefix("billing:dedup:"),      // one prefix per service that deduplicates on its own
		redisstore.WithTimeout(500*time.Millisecond)) // a slow Redis stalls a handling this long at most
	if err != nil {
		log.Fatal(err)
	}
	dedup, err := middleware.Dedup(store, middleware.DedupTTL(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	sub, err := transport.OpenSubscriber(ctx, "mem://")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	s, err := sub.Subscribe(ctx, "orders", transport.Chain(func(ctx context.Context, m *transport.Message) error {
		log.Printf("charging for order %s", m.ID) // once per ID, across processes
		return nil
	}, dedup), transport.WithGroup("billing"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}
