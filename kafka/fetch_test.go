package kafka_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

// TestFetchFaults breaks one fetch in the middle of a partition, in the ways
// a broker or the network does, and checks that the subscription carries on
// by itself and every message still arrives.
func TestFetchFaults(t *testing.T) {
	errorResponse := func(code int16) func(*kmsg.FetchRequest) (kmsg.Response, error) {
		return func(req *kmsg.FetchRequest) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.FetchResponse)
			resp.Version = req.Version
			for _, rt := range req.Topics {
				st := kmsg.NewFetchResponseTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				for _, rp := range rt.Partitions {
					sp := kmsg.NewFetchResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil
		}
	}
	faults := map[string]func(*kmsg.FetchRequest) (kmsg.Response, error){
		"connection dropped": func(*kmsg.FetchRequest) (kmsg.Response, error) {
			return nil, errors.New("injected: connection dropped")
		},
		"not leader":          errorResponse(6), // NOT_LEADER_FOR_PARTITION: find the leader again
		"offset out of range": errorResponse(1), // OFFSET_OUT_OF_RANGE, for an offset still in the log
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cluster.Close)
			brokers := cluster.ListenAddrs()
			topic := brokertest.KafkaTopic(t, brokers, 1)
			// Small fetches, so that the fault lands in the middle of the log.
			pub, sub := newPairWith(t, brokers, nil, []kafka.SubscriberOption{kafka.WithFetchMaxBytes(16 << 10)})
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()

			const n = 2000
			want := map[string]bool{}
			publish := func(count int) {
				msgs := make([]*transport.Message, count)
				for i := range msgs {
					msgs[i] = &transport.Message{Payload: make([]byte, 100)}
				}
				if err := pub.Publish(ctx, topic, msgs...); err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					want[m.ID] = true
				}
			}
			publish(n / 2)

			// Break the first fetch of our topic from an offset past the
			// start, once: it comes after a response with messages, and
			// the second half, published later, comes after it.
			var injected atomic.Bool
			cluster.ControlKey(kmsg.Fetch.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				req := kreq.(*kmsg.FetchRequest)
				for _, rt := range req.Topics {
					for _, rp := range rt.Partitions {
						if rt.Topic == topic && rp.FetchOffset > 0 && !injected.Load() {
							injected.Store(true)
							resp, err := fault(req)
							return resp, err, true
						}
					}
				}
				cluster.KeepControl()
				return nil, nil, false
			})

			var mu sync.Mutex
			got := map[string]bool{}
			deliveries := 0
			all := make(chan struct{})
			// No group: a fetcher that gave up would not be restarted by a
			// new group generation.
			s, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
				mu.Lock()
				defer mu.Unlock()
				deliveries++
				if !got[m.ID] {
					got[m.ID] = true
					if len(got) == n {
						close(all)
					}
				}
				return nil
			}, transport.WithStart(transport.StartOldest))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			publish(n / 2)
			select {
			case <-all:
			case <-time.After(wait):
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("got %d of %d messages (fault injected: %v)", len(got), n, injected.Load())
			}
			if !injected.Load() {
				t.Fatal("the fault was never injected")
			}
			s.Close()
			mu.Lock()
			defer mu.Unlock()
			for id := range got {
				if !want[id] {
					t.Errorf("unexpected message %q", id)
				}
			}
			// The fetcher resumes where it stopped: nothing is read twice.
			if deliveries != n {
				t.Errorf("%d deliveries of %d messages", deliveries, n)
			}
		})
	}
}

// TestFetchLingersOnlyWhileBusy: a fetch that found several records at the
// head of the log is followed by one that lets the broker gather a full
// response or wait the linger; after a fetch of one record, or an empty
// one, the next answers at the first record again, so a quiet partition
// adds no latency. WithFetchLinger(0) never lingers.
func TestFetchLingersOnlyWhileBusy(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "linger", false: "off"}[on], func(t *testing.T) {
			l := time.Duration(0)
			if on {
				l = testLinger
			}
			f := newFetchRecorder(t, l)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			f.subscribe(ctx, transport.StartNewest)

			// One record: the fetch after it answers at once.
			if fs := f.from(ctx, 0, 1); fs[0] != idleFetch {
				t.Errorf("first fetch %+v, want %+v", fs[0], idleFetch)
			}
			f.publish(ctx, 1, 1)
			f.handled(ctx, 1)
			if fs := f.from(ctx, 1, 1); fs[0] != idleFetch {
				t.Errorf("fetch after a fetch of one record %+v, want %+v", fs[0], idleFetch)
			}
			// Two records in one fetch: the next lingers, unless turned off,
			// and the one after that empty fetch answers at once again.
			f.publish(ctx, 2, 1)
			f.handled(ctx, 2)
			fs := f.from(ctx, 3, 2)
			want := lingeringFetch
			if !on {
				want = idleFetch
			}
			if fs[0] != want {
				t.Errorf("fetch after a fetch of two records %+v, want %+v", fs[0], want)
			}
			if fs[1] != idleFetch {
				t.Errorf("fetch after an empty one %+v, want %+v", fs[1], idleFetch)
			}
		})
	}
}

// TestFetchDoesNotLingerBehindTheHead: a fetcher draining a backlog fetches
// on at once; only the fetch that reaches the head of the log is followed
// by a lingering one.
func TestFetchDoesNotLingerBehindTheHead(t *testing.T) {
	f := newFetchRecorder(t, testLinger)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// Three batches of two records, each larger than a fetch may read: a
	// fetch returns one batch.
	for range 3 {
		f.publish(ctx, 2, testFetchMaxBytes/2)
	}
	f.subscribe(ctx, transport.StartOldest)
	f.handled(ctx, 6)
	for _, offset := range []int64{2, 4} {
		if fs := f.from(ctx, offset, 1); fs[0] != idleFetch {
			t.Errorf("fetch from %d, behind the head, %+v, want %+v", offset, fs[0], idleFetch)
		}
	}
	if fs := f.from(ctx, 6, 1); fs[0] != lingeringFetch {
		t.Errorf("fetch after reaching the head %+v, want %+v", fs[0], lingeringFetch)
	}
}

const (
	testLinger        = 7 * time.Millisecond
	testFetchMaxWait  = 300 * time.Millisecond
	testFetchMaxBytes = 64 << 10
)

// fetchParams is what a fetch request asks the broker to wait for.
type fetchParams struct {
	minBytes, maxWaitMs int32
}

var (
	idleFetch      = fetchParams{minBytes: 1, maxWaitMs: int32(testFetchMaxWait / time.Millisecond)}
	lingeringFetch = fetchParams{minBytes: testFetchMaxBytes, maxWaitMs: int32(testLinger / time.Millisecond)}
)

// fetchRecorder is a one-partition topic on a kfake broker of its own,
// with a publisher, a subscriber (the given linger, testFetchMaxWait and
// testFetchMaxBytes) and a record of the fetch requests sent for it.
type fetchRecorder struct {
	t       *testing.T
	topic   string
	pub     *kafka.Publisher
	sub     *kafka.Subscriber
	got     chan struct{}
	mu      sync.Mutex
	fetches map[int64][]fetchParams // by the offset fetched from
}

func newFetchRecorder(t *testing.T, linger time.Duration) *fetchRecorder {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	f := &fetchRecorder{t: t, topic: brokertest.KafkaTopic(t, brokers, 1), got: make(chan struct{}, 16),
		fetches: map[int64][]fetchParams{}}
	cluster.ControlKey(kmsg.Fetch.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if rt.Topic == f.topic {
					f.mu.Lock()
					f.fetches[rp.FetchOffset] = append(f.fetches[rp.FetchOffset], fetchParams{req.MinBytes, req.MaxWaitMillis})
					f.mu.Unlock()
				}
			}
		}
		return nil, nil, false
	})
	f.pub, f.sub = newPairWith(t, brokers, nil, []kafka.SubscriberOption{
		kafka.WithFetchLinger(linger), kafka.WithFetchMaxWait(testFetchMaxWait), kafka.WithFetchMaxBytes(testFetchMaxBytes)})
	return f
}

func (f *fetchRecorder) subscribe(ctx context.Context, start transport.StartPosition) {
	f.t.Helper()
	s, err := f.sub.Subscribe(ctx, f.topic, func(context.Context, *transport.Message) error {
		f.got <- struct{}{}
		return nil
	}, transport.WithStart(start))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
}

// publish publishes n messages of size bytes in one call.
func (f *fetchRecorder) publish(ctx context.Context, n, size int) {
	f.t.Helper()
	msgs := make([]*transport.Message, n)
	for i := range msgs {
		msgs[i] = &transport.Message{Payload: make([]byte, size)}
	}
	if err := f.pub.Publish(ctx, f.topic, msgs...); err != nil {
		f.t.Fatal(err)
	}
}

// handled waits until n more messages were handled.
func (f *fetchRecorder) handled(ctx context.Context, n int) {
	f.t.Helper()
	for range n {
		select {
		case <-f.got:
		case <-ctx.Done():
			f.t.Fatal("messages not handled")
		}
	}
}

// from waits until n fetches from offset were sent, and returns them.
func (f *fetchRecorder) from(ctx context.Context, offset int64, n int) []fetchParams {
	f.t.Helper()
	for {
		f.mu.Lock()
		fs := slices.Clone(f.fetches[offset])
		f.mu.Unlock()
		if len(fs) >= n {
			return fs
		}
		select {
		case <-ctx.Done():
			f.t.Fatalf("%d fetches from offset %d, want %d", len(fs), offset, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
