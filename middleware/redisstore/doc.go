// Package redisstore is a middleware.Store on Redis
// (github.com/redis/go-redis/v9), for deduplication shared by every process
// that uses the same Redis and prefix.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := redisstore.New(rdb)
//	dedup, err := middleware.Dedup(store)
//
// Each key is one Redis string, "<prefix><key>", holding "claim:<token>"
// while a delivery handles it and "done" once one succeeded, with a PX
// expiry: the lease, then the TTL. Claim and Release are Lua scripts, so each
// is atomic; MarkDone is a plain SET PX. Redis drops expired keys itself:
// the store starts no goroutine and holds nothing but the client.
//
// # Delivery
//
// Two processes claiming one key at once get one Claimed and one Busy. A
// process that crashes while handling leaves its claim until the lease ends;
// a redelivery meanwhile is Busy, and handled once the lease ended.
//
// # Errors
//
// Redis errors are returned as transport.ErrUnavailable errors (the native
// go-redis error stays reachable with errors.As), so Dedup leaves the message
// unacknowledged and it comes back. A Redis that does not answer stalls each
// handling for WithTimeout (default 1 s) before that happens. They name no password: go-redis does not
// put credentials in its errors.
package redisstore
